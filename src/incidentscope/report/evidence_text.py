"""evidence.md: the evidence pack (evidence.EvidencePack) for a reader."""

from __future__ import annotations

from incidentscope.evidence import EvidencePack
from incidentscope.report.document import Block, Bullets, Heading, Para, Table
from incidentscope.report.investigate_text import WHY, candidate_line, logged_text
from incidentscope.report.markdown import to_markdown


def blocks(pack: EvidencePack) -> list[Block]:
    run = pack.latest_run
    calibration = pack.calibration
    out: list[Block] = [
        Heading(1, f"Evidence pack: {pack.incident['title']}"),
        Para(f"For the supervisory authority's follow-up questions on incident "
             f"{pack.incident['id']}. Confidential and person-level: it names account ids "
             "(contacts only as key fingerprints). Everything in it is in evidence.json."),
        Heading(2, "Method"),
        Bullets(tuple(f"{name}: {text}" for name, text in pack.method.items())),
        Heading(2, "This replay's estimate"),
        Table(("", ""), (
            ("accounts in the upper bound only (uncertain)",
             f"{calibration['uncertain_accounts']:,}"),
            ("sum of their probabilities", f"{calibration['probability_mass']:,.3f}"),
            ("model standard deviation of the estimate", f"{calibration['model_sd']:,.3f}"),
            ("caused share used for unexplained matches",
             f"{calibration['unexplained_caused_share']:.6f}")), (False, True)),
        Heading(2, "Provenance"),
        Bullets((f"key fingerprint: {pack.key_fingerprint or '-'}",
                 "latest recorded run: " + (f"{run['run_id']} ({run['kind']}), manifest "
                                            f"sha256 {run['manifest_sha256'] or '-'}"
                                            if run else "none"))),
        Table(("table", "file", "sha256", "rows loaded", "rejected"), tuple(
            (str(i["table"]), str(i["path"]), str(i["sha256"]), f"{i['rows_loaded']:,}",
             f"{i['rows_rejected']:,}") for i in pack.inputs),
            (False, False, False, True, True)),
        Table(("replay step", "sql sha256"), tuple(
            (name, sha) for name, sha in pack.replay_steps.items()), (False, False)),
        Heading(2, "Stratified sample of in-window matches"),
        Para(f"Up to {pack.per_stratum} matches of each class, ordered by SHA-256 of the seed "
             f"({pack.seed}) and the match's account, time, audience and channel: the same "
             "workspace, seed and incident file give the same sample."),
        Table(("class", "in-window matches", "sampled"), tuple(
            (stratum, f"{count:,}", f"{sum(1 for s in pack.sample if s.stratum == stratum):,}")
            for stratum, count in pack.population.items())),
    ]
    rows = []
    for item in pack.sample:
        match = item.match
        rows.append((item.stratum, str(item.account_id), item.account_outcome,
                     match.matched_at.strftime("%Y-%m-%d %H:%M:%S"), match.audience_id,
                     match.advertiser_id, logged_text(match)[5:],
                     "; ".join(candidate_line(c, None) for c in match.candidates) or "none",
                     WHY[match.match_class]))
    if rows:
        out.append(Table(("class", "account", "account outcome", "time (UTC)", "audience",
                          "advertiser", "logged", "candidate keys: before -> after", "why"),
                         tuple(rows), (False,) * 9))
    return out


def render(pack: EvidencePack) -> str:
    return to_markdown(blocks(pack))
