"""``pagemill eval``: the command line of the evaluation graph (:mod:`pipelines.evaluation`)."""

from __future__ import annotations

import argparse
import sys

from ops.backends.base import MissingDependency
from ops.evaluation.scoring import TEXT_LAYER
from ops.metrics.normalize import FORMS
from pipelines.cli_common import EXIT_OK, EXIT_USAGE, HelpFormatter, add_password_options
from pipelines.eval_config import TRUTH_FORMATS

DESCRIPTION = """\
Score OUTPUT's page text against ground truth and write a report (REPORT/index.html,
summary.json, pages.parquet). Scoring runs as Ray tasks, one per output shard (small ones
grouped), separate from any conversion.

TRUTH is one of:
  a folder   NAME.txt / NAME.gt.txt / NAME.gold.txt for a whole document NAME.*,
             NAME/0001.txt (any zero padding) for page 1 of it; matched by file name
             and, when names repeat, by the folders above it
  a table    .parquet or .jsonl with `text`, one of source / source_uri / name / doc_id,
             and optionally page_number (empty: the whole document)
  text-layer the PDFs' own text layer, for pages that went through OCR (e.g. a run with
             --route ocr over born-digital PDFs audits OCR with no labelling at all)
  a bench    olmOCR-bench test files (one .jsonl, or a folder of them: one category per
             file); tests run on each page's text and are scored as olmOCR-bench does
             (pass rate per category, overall = their mean, 95% bootstrap interval).
             Math tests pass on an exact formula match only (no KaTeX rendering)
"""

EPILOG = """\
examples:
  pagemill eval out --truth truth/
  pagemill eval out --truth text-layer --sample 500 --group-by route,backend
  pagemill eval --compare out_tesseract out_rapidocr --truth truth/ --report cmp/
"""


def add_eval(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "eval",
        help="score an output against ground truth (CER, WER, NED, bag of words) and report",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("output", metavar="OUTPUT", nargs="?", help="a pagemill output folder")
    parser.add_argument(
        "--compare",
        nargs=2,
        metavar=("OUTPUT_A", "OUTPUT_B"),
        help="score two outputs of the same inputs and compare them page by page",
    )
    parser.add_argument("--truth", required=True, help=f"folder, table file, or {TEXT_LAYER}")
    parser.add_argument(
        "--truth-format",
        choices=TRUTH_FORMATS,
        default="auto",
        help="how to read --truth",
    )
    parser.add_argument(
        "--report", default=None, help="report folder (default: OUTPUT/_eval, or ./eval-compare)"
    )
    parser.add_argument(
        "--normalize",
        choices=list(FORMS),
        default="n1",
        help="n0: NFC only; n1: also quotes/dashes folded, markup stripped, whitespace "
        "collapsed; n2: n1 then letters and digits only (NED always uses n2)",
    )
    parser.add_argument("--casefold", action="store_true", help="compare case-insensitively")
    parser.add_argument(
        "--sample",
        type=float,
        default=None,
        help="score a stable hash sample: a fraction (0.1) or about this many pages (500)",
    )
    parser.add_argument(
        "--group-by",
        default="route,backend",
        help="breakdowns, comma-separated: route, backend, model, source_kind",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="scoring tasks at once (default: all CPUs)"
    )
    parser.add_argument("--labels", nargs="+", default=None, help="names of the outputs")
    judge = parser.add_argument_group(
        "LLM judge (optional)",
        "A model behind an OpenAI-compatible endpoint grades a hash sample of scored pages: the "
        "output text against the page image (rendered again from the source) and the truth. "
        "Needs pagemill[openai]. Results: REPORT/judge.parquet and summary.json's `judge`.",
    )
    judge.add_argument("--judge-model", default=None, help="the served model's name")
    judge.add_argument("--judge-url", default=None, help="base URL (default: $OPENAI_BASE_URL)")
    judge.add_argument(
        "--judge-api-key-env",
        default="OPENAI_API_KEY",
        help="environment variable holding the API key (the key is never logged or stored)",
    )
    judge.add_argument(
        "--judge-pages",
        type=int,
        default=50,
        help="scored pages judged per output (the same pages in each, by a stable hash)",
    )
    judge.add_argument("--judge-concurrency", type=int, default=8, help="requests in flight")
    add_password_options(
        parser,
        "Text-layer truth and the report's page images open the sources again; give the "
        "passwords the run was given.",
    )
    parser.add_argument("--address", default=None, help="Ray cluster (default: start locally)")
    parser.add_argument("--num-cpus", type=int, default=None, help="CPUs for a local Ray")
    parser.add_argument("--no-progress", dest="progress", action="store_false")


def run_eval(args: argparse.Namespace) -> int:
    from pipelines.config import passwords
    from pipelines.eval_config import EvalConfig
    from pipelines.evaluation import evaluate

    if bool(args.output) == bool(args.compare):
        print("pagemill: error: give OUTPUT, or --compare OUTPUT_A OUTPUT_B", file=sys.stderr)
        return EXIT_USAGE
    outputs = tuple(args.compare) if args.compare else (args.output,)
    try:
        config = EvalConfig(
            outputs=outputs,
            truth=args.truth,
            truth_format=args.truth_format,
            report=args.report or ("eval-compare" if args.compare else None),
            normalization=args.normalize,
            casefold=args.casefold,
            sample=args.sample,
            group_by=tuple(column for column in args.group_by.split(",") if column),
            workers=args.workers,
            labels=tuple(args.labels or ()),
            progress=args.progress,
            address=args.address,
            num_cpus=args.num_cpus,
            judge_model=args.judge_model,
            judge_url=args.judge_url,
            judge_api_key_env=args.judge_api_key_env,
            judge_pages=args.judge_pages,
            judge_concurrency=args.judge_concurrency,
            passwords=passwords(args.password, args.password_file, args.password_map),
        )
        result = evaluate(config)
    except (ValueError, FileNotFoundError, MissingDependency) as exc:
        print(f"pagemill: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(format_headline(result.summary))
    print(
        f"report: {result.report}/index.html  ({result.pages_scored:,} scores, "
        f"{result.seconds:.1f} s)"
    )
    return EXIT_OK


def format_headline(summary: dict) -> str:
    """The overall table as plain text: one line per output."""
    width = max([12, *(len(label) + 1 for label in summary["coverage"])])
    lines = [
        f"{'output':<{width}} {'pages':>8} {'CER':>7} {'WER':>7} {'NED':>7} {'BoW F1':>7}"
        f" {'errors':>7} {'missing':>8}"
    ]
    overall = {row["output"]: row for row in summary["overall"]}
    for label, coverage in summary["coverage"].items():
        # An output with no scored page (no truth matched, every row an error) still gets its
        # line: its errors and missing truth are the news.
        row = overall.get(label) or dict.fromkeys(("cer", "wer", "ned", "bow_f1"), None)
        missing = coverage["truth_missing_from_output"]
        lines.append(
            f"{label:<{width}} {row.get('pages', 0):>8,} {_rate(row['cer'])} {_rate(row['wer'])} "
            f"{_rate(row['ned'])} {_rate(row['bow_f1'])} {coverage['error_rows']:>7,} "
            f"{'—' if missing is None else format(missing, ','):>8}"
        )
        superseded = coverage.get("superseded_rows")
        if superseded:
            lines.append(
                f"{'':<{width}} {superseded:,} superseded rows skipped (not yet reconciled)"
            )
    for shard in (s for c in summary["coverage"].values() for s in c["unreadable_shards"]):
        lines.append(f"unreadable shard {shard['shard']}: {shard['reason']}")
    for label, bench in (summary.get("bench") or {}).items():
        lines.append(
            f"olmOCR-bench {label}: {bench['overall']:.3f} "
            f"(95% CI {bench['ci_low']:.3f}-{bench['ci_high']:.3f}) over {bench['tests']:,} tests; "
            + ", ".join(f"{c['name']} {c['rate']:.3f}" for c in bench["categories"])
        )
    for label, judged in (summary.get("judge") or {}).items():
        mean = judged["mean_score"]
        lines.append(
            f"judge {judged['model']} on {label}: {judged['valid']}/{judged['pages']} pages graded"
            + ("" if mean is None else f", mean score {mean:.3f} (0-1)")
            + "".join(
                f"; {count} invalid: {why}" for why, count in judged["invalid_reasons"].items()
            )
        )
    compared = summary.get("compare")
    if compared:
        a, b = compared["labels"]
        lines.append(
            f"{compared['pages']:,} pages in both: {a} better on {compared['a_better']:,}, "
            f"{b} better on {compared['b_better']:,}, ties {compared['ties']:,}"
        )
    return "\n".join(lines)


def _rate(value: float | None) -> str:
    return f"{'—':>7}" if value is None else f"{value:>7.4f}"
