"""The insured place's monthly report of its funds spent elsewhere, as operators get it
(docs/supervision.md), on both databases: the REST route's JSON, CSV (UTF-8 with BOM)
and HTML (self-contained), the console's page and downloads over HTTP in Chinese and
English, ``yibao supervision report``, the refusals of a bad region, month, format or
language, and an empty month as an empty report."""

from __future__ import annotations

import csv
import io
import re

import pytest
from typer.testing import CliRunner

from away_plant import INSURED, plant_month
from conftest import AUDITOR, CLERK
from console_tables import by_first_cell
from test_console import sign_in
from yibao.cli import app as cli

PATH = "/admin/v1/supervision/away-analysis"
BEIJING = 20 * (100000 + 110000 + 120000 + 330000) + 88800  # fen, April
SHANGHAI = 4 * 200000


@pytest.fixture
def planted(db):
    plant_month(db)
    return db


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def test_the_json_has_the_month_its_tables_trend_and_outliers(planted, http):
    answer = http.get(PATH, params={"region": INSURED, "month": "2026-04"}, headers=CLERK)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["region"] == INSURED and body["month"] == "2026-04"
    assert body["total"]["fund"] == yuan(BEIJING + SHANGHAI)
    assert body["total"]["visits"] == 85
    assert body["total"]["fund_per_visit"] == yuan((BEIJING + SHANGHAI) // 85)
    assert [(r["mdtrtarea_admvs"], r["fund"], r["outlier"]) for r in body["regions"]] == [
        ("110000", yuan(BEIJING), False), ("310000", yuan(SHANGHAI), True)]
    h4 = next(i for i in body["institutions"] if i["fixmedins_code"] == "H1100000004")
    assert h4["outlier"] and h4["fund_per_visit"] == "3300.00" and h4["level"] == 3
    assert [t["month"] for t in body["trend"]][::11] == ["2025-05", "2026-04"]
    assert body["changes"]["fund"]["yoy"] == "604.4"  # 1408.88 on 200.00 a year before
    peers = next(o for o in body["outliers"] if o["check"] == "peers")
    assert peers == {
        "dimension": "institution", "key": "H1100000004", "name": "测试医院 H1100000004",
        "check": "peers", "figure": "3300.00", "reference": "1100.00", "ratio": "3.00",
        "threshold": "2", "peers": 3,
        "why": "Fund per visit 3300.00 yuan is 3.00 times the median 1100.00 yuan of 3 "
               "institutions of the same treatment region and level (above 2 times)"}
    assert body["thresholds"] == {"peer_ratio": "2", "min_peers": 3, "min_visits": 20,
                                  "jump_ratio": "2", "history_months": 6}


def test_the_csv_is_one_excel_ready_file_with_a_row_per_line(planted, http):
    answer = http.get(PATH, params={"region": INSURED, "month": "2026-04", "format": "csv",
                                    "lang": "en"}, headers=AUDITOR)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="away-analysis-130102-2026-04.csv"' in answer.headers[
        "content-disposition"]
    raw = answer.content
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    sections = [r["section"] for r in rows]
    assert sections.count("total") == 1 and sections.count("trend") == 12
    assert sections.count("region") == 2 and sections.count("institution") == 5
    total = next(r for r in rows if r["section"] == "total")
    assert total["fund"] == yuan(BEIJING + SHANGHAI) and total["fund_change_yoy_pct"] == "604.4"
    regions = [r for r in rows if r["section"] == "region"]
    assert sum(int(r["fund"].replace(".", "")) for r in regions) == BEIJING + SHANGHAI
    shanghai = next(r for r in regions if r["key"] == "310000")
    assert shanghai["outlier"].startswith("Fund paid 8000.00 yuan is 4.00 times the median "
                                          "2000.00 yuan of its previous 6 months")
    disease = {r["key"]: r for r in rows if r["section"] == "disease"}
    assert disease["I10.x00"]["name"] == "病 I10.x00" and disease[""]["fund"] == "888.00"


def test_the_html_report_is_one_self_contained_page(planted, http):
    answer = http.get(PATH, params={"region": INSURED, "month": "2026-04", "format": "html"},
                      headers=AUDITOR)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert '<html lang="zh-CN">' in page and "异地就医基金使用分析" in page
    assert not re.search(r"<script|<link|src=\"http|href=\"http|@import", page)
    assert "<svg" in page
    institutions = by_first_cell(page, "away-institutions")
    assert institutions["H1100000004"][-1].startswith("⚠ 异常: 次均基金支付 3300.00 元")
    assert by_first_cell(page, "away-regions")["110000"][4] == "132,888.00"
    english = http.get(PATH, params={"region": INSURED, "month": "2026-04", "format": "html",
                                     "lang": "en"}, headers=AUDITOR).text
    assert "Funds spent elsewhere" in english and "Per institution" in english


@pytest.mark.parametrize(("params", "code"), [
    ({"region": "1301", "month": "2026-04"}, "E-SUP-020"),
    ({"region": INSURED, "month": "2026-4"}, "E-SUP-021"),
    ({"region": INSURED, "month": "2026-06"}, "E-SUP-022"),
    ({"region": INSURED, "month": "2026-04", "format": "xlsx"}, "E-SUP-023"),
    ({"region": INSURED, "month": "2026-04", "lang": "fr"}, "E-SUP-023"),
])
def test_a_bad_region_month_format_or_language_is_refused(db, http, params, code):
    answer = http.get(PATH, params=params, headers=CLERK)
    assert answer.status_code == 400 and answer.json()["code"] == code


def test_an_empty_month_is_an_empty_report_and_operators_only(db, http):
    answer = http.get(PATH, params={"region": INSURED, "month": "2026-05"}, headers=CLERK)
    assert answer.status_code == 200
    body = answer.json()
    assert body["regions"] == body["institutions"] == body["outliers"] == []
    assert body["total"]["visits"] == 0 and body["total"]["fund_per_visit"] is None
    assert body["changes"]["fund"] == {"mom": None, "yoy": None}
    assert http.get(PATH, params={"region": INSURED, "month": "2026-05"}).status_code == 401


def test_the_command_writes_the_report(planted, tmp_path):
    url = str(planted.engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    out = tmp_path / "r.csv"
    done = runner.invoke(cli, ["supervision", "report", "--region", INSURED, "--month",
                               "2026-04", "--format", "csv", "--out", str(out), "--db", url])
    assert done.exit_code == 0, done.output
    assert f"85 visits, fund paid {yuan(BEIJING + SHANGHAI)} yuan, 3 outliers" in done.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbfsection,month,key")
    html = tmp_path / "r.html"
    done = runner.invoke(cli, ["supervision", "report", "--region", INSURED, "--month",
                               "2026-04", "--out", str(html), "--lang", "en", "--db", url])
    assert done.exit_code == 0 and "Per treatment region" in html.read_text(encoding="utf-8")
    bad = runner.invoke(cli, ["supervision", "report", "--region", "x", "--month", "2026-04",
                              "--out", str(html), "--db", url])
    assert bad.exit_code == 1 and "E-SUP-020" in bad.output


def test_the_console_page_shows_the_month_and_offers_the_downloads(planted, http):
    sign_in(http, "clerk")
    page = http.get("/console/away-analysis", params={"region": INSURED, "month": "2026-04"})
    assert page.status_code == 200
    assert "<h1>异地就医基金使用分析</h1>" in page.text
    regions = by_first_cell(page.text, "away-regions")
    assert regions["310000"][4] == "8,000.00" and regions["310000"][-1].startswith("⚠ 异常")
    assert 'class="outlier"' in page.text
    assert ("/console/away-analysis/report?region=130102&amp;month=2026-04&amp;format=csv"
            in page.text)
    csv_file = http.get("/console/away-analysis/report",
                        params={"region": INSURED, "month": "2026-04", "format": "csv"})
    assert csv_file.status_code == 200 and csv_file.content.startswith(b"\xef\xbb\xbf")
    english = http.get("/console/away-analysis", params={
        "region": INSURED, "month": "2026-04", "lang": "en"})
    assert "<h1>Funds spent elsewhere</h1>" in english.text
    # the insured places offered: those with care away from home recorded
    default = http.get("/console/away-analysis")
    assert 'value="130102"' in default.text and 'option value="140100"' in default.text
    bad = http.get("/console/away-analysis", params={"region": INSURED, "month": "2026-13"})
    assert bad.status_code == 400 and "E-SUP-021" in bad.text
