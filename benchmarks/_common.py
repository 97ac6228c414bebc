"""Helpers shared by the benchmark scripts: argument parsing and output."""

import argparse
import csv
import os
import platform

import torch


def parse_args(description, seeds=None):
    """--out, --device, --quick; and --seeds when the script reports seeds
    (default ``seeds``), so that a tuning run on other seeds is the same script."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", default="bench-results")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true")
    if seeds is not None:
        p.add_argument("--seeds", type=int, nargs="+", default=list(seeds))
    return p.parse_args()


def machine():
    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads), {dev}")


def write(rows, out, name, title):
    """Print a Markdown table and write it with a CSV next to it."""
    os.makedirs(out, exist_ok=True)
    cols = list(rows[0])
    md = [f"## {title}", "", f"Machine: {machine()}", "",
          "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    md += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    text = "\n".join(md)
    print(text, flush=True)
    with open(os.path.join(out, name + ".md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(out, name + ".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
