//! `--format html`: the class report, one self-contained page, checked in headless Chromium at
//! 1280 and 390 px (as `book/check-layout` checks the book): nothing overflows the page (on a
//! phone a wide table may scroll inside its own box), and every failure's evidence is there.

use std::process::Command;

use crate::support::*;

/// Added before `</body>`: measures every block once the page has rendered and writes what
/// overflows into the DOM, which `--dump-dom` prints.
const PROBE: &str = r#"<script>
window.addEventListener('load', () => {
  // Headless Chromium's window is at least 500 px wide: a narrower width is laid out by
  // making the page itself that wide (media queries already see a phone below 600 px).
  const want = WIDTH;
  if (want < window.innerWidth) document.documentElement.style.width = want + 'px';
  const phone = want <= 600;
  const page = Math.min(want, document.documentElement.clientWidth);
  const bad = [];
  for (const d of document.querySelectorAll('details')) d.open = true;
  for (const el of document.querySelectorAll('main, section, pre, table, p, li, h1, h2, h3, details, summary, .chart, .chart > div')) {
    if (phone && el.closest('.table-wrapper')) continue;
    const box = el.getBoundingClientRect();
    const scrolls = el.tagName === 'PRE' && el.scrollWidth > el.clientWidth + 1;
    const wrapper = !phone && el.parentElement && el.parentElement.classList.contains('table-wrapper')
      && el.parentElement.scrollWidth > el.parentElement.clientWidth + 1;
    if (scrolls || wrapper || box.right > page + 1) {
      bad.push(el.tagName.toLowerCase() + ' ' + Math.round(box.right) + '>' + page + ': ' +
        (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 60));
    }
  }
  const out = document.createElement('div');
  out.id = 'layout-report';
  out.textContent = JSON.stringify({bad, width: page, body: document.body.getBoundingClientRect().width, details: document.querySelectorAll('details').length});
  document.body.appendChild(out);
});
</script>"#;

fn chromium() -> Option<String> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(String::from)
}

#[test]
fn the_class_report_renders_without_overflow_at_1280_and_390_px() {
    let dir = temp_dir("html");
    let file = dir.join("class.html");
    let file_text = file.display().to_string();
    let (code, _, stderr) = run(&[
        "02",
        "--class",
        "examples/students",
        "--check",
        "demo_exits_zero",
        "--check",
        "server_echoes_bytes",
        "--format",
        "html",
        "-o",
        &file_text,
    ]);
    assert_eq!(code, 1, "{stderr}");
    let page = std::fs::read_to_string(&file).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    for student in ["ana", "ben", "chen", "dana", "eve"] {
        assert!(
            page.contains(&format!("<td class=\"name\">{student}</td>")),
            "{page}"
        );
    }
    // eve's demo fails: its evidence is in a <details>.
    assert!(
        page.contains("<details><summary>✗ <code>demo_exits_zero</code>"),
        "{page}"
    );

    let Some(browser) = chromium() else {
        eprintln!("skipped the browser check: no chromium on PATH (apt-get install chromium)");
        return;
    };
    let probe = dir.join("probe.html");
    for width in [1280, 390] {
        let script = PROBE.replace("WIDTH", &width.to_string());
        std::fs::write(&probe, page.replace("</body>", &format!("{script}</body>"))).unwrap();
        let profile = dir.join(format!("profile-{width}"));
        let dom = Command::new(&browser)
            .args(["--headless", "--no-sandbox", "--disable-gpu"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("--virtual-time-budget=5000")
            .arg(format!("--window-size={width},2000"))
            .arg("--dump-dom")
            .arg(format!("file://{}", probe.display()))
            .output()
            .expect("chromium runs");
        let dom = String::from_utf8_lossy(&dom.stdout);
        let report = dom
            .split("<div id=\"layout-report\">")
            .nth(1)
            .and_then(|rest| rest.split("</div>").next())
            .unwrap_or_else(|| panic!("no report from the page at {width} px: {dom}"));
        let report = report
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
        let report: serde_json::Value = serde_json::from_str(&report).expect("the probe's JSON");
        assert_eq!(
            report["bad"],
            serde_json::json!([]),
            "overflow at {width} px: {report}"
        );
        assert!(
            report["body"].as_f64().unwrap() <= f64::from(width),
            "not laid out at {width} px: {report}"
        );
        assert!(report["details"].as_u64().unwrap() >= 6, "{report}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
