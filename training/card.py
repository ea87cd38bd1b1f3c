"""The human-readable model card (``CARD.md``), written from ``card.json`` so the two never disagree."""

from __future__ import annotations

from typing import Any

from inference.registry import ModelCard


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _hits(hit: dict[str, Any]) -> str:
    return f"{_pct(hit['rate'])} of {hit['bars']}"


def summary_table(card: ModelCard) -> str:
    """Held-out AUC and hit rates of the model beside the baseline formula's, on every bar and at signals only."""
    threshold = card.training["strategy_threshold"]
    lines = [
        f"| held out: {card.training['held_out_session']} | bars | up | AUC | hit rate, every bar "
        f"| hit rate, \\|score\\| >= {threshold} |",
        "|---|---|---|---|---|---|",
    ]
    model = f"{card.name} {card.version}"
    for label, key in (
        (model, "held_out"),
        ("baseline formula", "baseline_held_out"),
        (f"{model}, signal bars only", "held_out_signal_bars"),
        ("baseline formula, signal bars only", "baseline_held_out_signal_bars"),
    ):
        figures = card.metrics[key]
        hit = figures["hit_rate"]
        lines.append(
            f"| {label} | {figures['bars']} | {_pct(figures['up_rate'])} | {_num(figures['auc'])} "
            f"| {_hits(hit['any_score'])} | {_hits(hit['traded'])} |"
        )
    return "\n".join(lines)


def _calibration(figures: dict[str, Any]) -> list[str]:
    lines = ["| predicted P(up) | bars | mean predicted | observed up |", "|---|---|---|---|"]
    for b in figures["calibration"]:
        lines.append(f"| [{b['low']:.1f}, {b['high']:.1f}) | {b['bars']} | {_num(b['mean_predicted'])} | {_num(b['observed'])} |")
    return lines


def _leak_check(card: ModelCard) -> str:
    t = card.training
    auc = card.metrics["held_out"]["auc"]
    return (
        f"The last training label window ends {t['leak_check']['last_training_label_ends']}; the first held-out bar "
        f"closes {t['leak_check']['first_held_out_bar_closes']} (`training/split.py` refuses any overlap; a session's "
        "last bar closes when the next session's first tick arrives, as in the kernel). Features "
        "at a bar use only ticks up to the one that closes it; the label starts at that bar's close. "
        f"A held-out AUC of {auc:.3f} on one session is what little data gives: "
        "read it as weak evidence, not as an edge."
    )


def render(card: ModelCard) -> str:
    t, label, model = card.training, card.training["label"], card.training["model"]
    lines = [
        f"# Model card: {card.name} {card.version}",
        "",
        f"- **model.onnx SHA-256**: `{card.sha256}`",
        f"- **what it predicts**: P(up) at a 1-minute bar close of {t['data']['symbol']}; score = 2p - 1, "
        "quantized to 1e-6 (`quantize_score`) before any decision",
        f"- **model**: {model['kind']}, {model['hyperparameters']}, seed {model['seed']}; fixed before training, "
        "nothing tuned on the held-out session",
        f"- **I/O**: input `{card.input}` float32 [N, {len(card.features)}], output `{card.output}` float32 [N, 2] "
        "(column 1 = P(up))",
        f"- **converters**: {', '.join(f'{k} {v}' for k, v in t['converters'].items())}",
        "",
        "## Features",
        f"In this order: {', '.join(f'`{f}`' for f in card.features)}, computed by the live pattern engine "
        "at every bar close (`training/features.py`).",
        f"`signal_score`: {t['signal_score_definition']}.",
        "",
        "## Data and label",
        f"- data: `{t['data']['file']}` (SHA-256 `{t['data']['sha256']}`), {t['data']['bar_rows']} bar rows",
        f"- fit on sessions {', '.join(t['train_sessions'])}: bar closes {t['train_window']['first_bar_close']} to "
        f"{t['train_window']['last_bar_close']}, {t['train_window']['labelled_bars']} labelled bars "
        f"({t['train_window']['signal_bars']} with a signal)",
        f"- held out, session {t['held_out_session']}: {t['held_out_window']['first_bar_close']} to "
        f"{t['held_out_window']['last_bar_close']}, {t['held_out_window']['labelled_bars']} labelled bars "
        f"({t['held_out_window']['signal_bars']} with a signal)",
        f"- label, horizon {label['horizon_bars']} bars: {label['definition']}; cost = round trip of one contract = "
        f"{label['round_trip_cost_points']} points (slippage {label['slippage_ticks']} ticks of {label['tick_size']} "
        f"and fee {label['fee_per_unit']} per side at multiplier {label['multiplier']}, the kernel's defaults)",
        f"- bars without a label (cost not covered either way, or horizon past the session): "
        f"{t['unlabelled_bars_by_session']}",
        "",
        "## Held-out figures (walk-forward: never seen by the fit)",
        summary_table(card),
        "",
        "Calibration of the model on the held-out session:",
        "",
        *_calibration(card.metrics["held_out"]),
        "",
        "Calibration of the baseline formula (P(up) = (score + 1) / 2) on the same bars:",
        "",
        *_calibration(card.metrics["baseline_held_out"]),
        "",
        f"In-sample (training session) AUC, for comparison only: {_num(card.metrics['train']['auc'])}.",
        "",
        "## Leak check",
        _leak_check(card),
        "",
    ]
    return "\n".join(lines)
