//! Usage: errors exit 2 with a hint; `--list` prints a lesson's checks.

use predicates::prelude::*;
use workbook::checker::checks::l02_echo as echo;
use workbook::checker::grade;

use crate::support::*;

#[test]
fn usage_errors_exit_2_with_a_hint() {
    for (args, error) in [
        (
            &["07_nope", "--", "true"][..],
            "error: unknown lesson `07_nope`",
        ),
        (&["02_echo"], "error: what should be graded?"),
        (
            &["all", "--", "true"],
            "error: `all` needs a student folder",
        ),
        (
            &["02", "--check", "no_such_check", "--", "true"],
            "error: no check `no_such_check`",
        ),
        (&["--jobs", "0", "02", "--", "true"], "error:"),
        (&[], "error: which lesson?"),
    ] {
        grade()
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(error));
    }
    grade()
        .args(["02", "--class", "no/such/folder"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "error: cannot read no/such/folder",
        ))
        .stderr(predicate::str::contains("hint: "));
}

#[test]
fn list_prints_the_checks_of_a_lesson_as_a_table() {
    grade()
        .args(["--list", "02"])
        .assert()
        .success()
        .stdout(grade::checks_table(&echo::LESSON));
    grade()
        .args(["--list"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "### 01_time_server\n\n| check | points |",
        ))
        .stdout(predicate::str::contains("### 02_echo\n"));
}
