//! Grading where classes already are: the Gradescope autograder (its results.json against the
//! specification's schema, its scripts, its zip), the GitHub Classroom workflow (a test per
//! lesson with the lesson's points; actionlint runs in .ci/run), the GitLab CI template and the
//! Containerfile (linted in .ci/run where a linter can be had; no container engine here).

use std::process::Command;

use workbook::checker::checks::LESSONS;

use crate::support::*;

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn schema_errors(json: &serde_json::Value) -> Vec<String> {
    let schema: serde_json::Value =
        serde_json::from_str(&read("grading/gradescope/results.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    validator
        .iter_errors(json)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

#[test]
fn run_autograder_writes_results_gradescope_accepts() {
    let fake = temp_dir("autograder");
    std::fs::create_dir_all(fake.join("source/grading/gradescope")).unwrap();
    std::fs::write(
        fake.join("source/grading/gradescope/lessons"),
        "01_time_server\n",
    )
    .unwrap();
    // The submission: ana's folder, her programs beside it as in examples/.
    let submission = fake.join("submission");
    std::fs::create_dir_all(&submission).unwrap();
    let python = root().join("examples/python/01_time_server.py");
    std::fs::write(
        submission.join("run.toml"),
        format!("01_time_server = \"python3 {}\"\n", python.display()),
    )
    .unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_grade"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(root().join("grading/gradescope/run_autograder"))
        .env("AUTOGRADER_ROOT", &fake)
        .env("PATH", path)
        .output()
        .expect("run_autograder runs");
    assert!(out.status.success(), "{out:?}");
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fake.join("results/results.json")).expect("results.json"),
    )
    .expect("JSON");
    assert_eq!(schema_errors(&results), Vec::<String>::new(), "{results:#}");
    let points: u32 = LESSONS[0].checks.iter().map(|c| c.points).sum();
    assert_eq!(results["score"], f64::from(points), "{results:#}");
    assert_eq!(
        results["tests"].as_array().unwrap().len(),
        LESSONS[0].checks.len()
    );

    // A submission without a run.toml: still a results.json, score 0, saying why.
    std::fs::remove_file(submission.join("run.toml")).unwrap();
    let out = Command::new(root().join("grading/gradescope/run_autograder"))
        .env("AUTOGRADER_ROOT", &fake)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fake.join("results/results.json")).unwrap())
            .unwrap();
    assert_eq!(schema_errors(&results), Vec::<String>::new(), "{results:#}");
    assert_eq!(results["score"], 0.0, "{results:#}");
    let _ = std::fs::remove_dir_all(&fake);
}

#[test]
fn the_autograder_zip_has_its_scripts_at_the_root() {
    let dir = temp_dir("zip");
    let zip = dir.join("autograder.zip");
    let out = Command::new(root().join("grading/gradescope/make-autograder-zip"))
        .args(["--lessons", "02_echo", "-o"])
        .arg(&zip)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let listing = Command::new("python3")
        .args(["-c", "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nfor i in z.infolist(): print(oct(i.external_attr >> 16), i.filename)\nprint(z.read('grading/gradescope/lessons').decode().strip())"])
        .arg(&zip)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    for line in [
        "0o100755 setup.sh",
        "0o100755 run_autograder",
        " Cargo.lock",
        " src/bin/grade.rs",
    ] {
        assert!(listing.contains(line), "{line} missing:\n{listing}");
    }
    assert!(listing.trim_end().ends_with("02_echo"), "{listing}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_classroom_workflow_has_a_test_per_lesson_with_its_points() {
    let workflow = read("grading/github-classroom/classroom.yml");
    for lesson in LESSONS {
        let points: u32 = lesson.checks.iter().map(|c| c.points).sum();
        let step = format!(
            "      - name: {0}\n        id: l{0}\n        uses: classroom-resources/autograding-command-grader@v1\n        with:\n          test-name: {0}\n          setup-command: ''\n          command: workbook/target/release/grade {0} --student student\n          timeout: 10\n          max-score: {points}\n",
            lesson.name
        );
        assert!(
            workflow.contains(&step),
            "{} missing or wrong:\n{step}",
            lesson.name
        );
        let result = format!(
            "L{}_RESULTS: \"${{{{steps.l{}.outputs.result}}}}\"",
            lesson.name.to_uppercase(),
            lesson.name
        );
        assert!(workflow.contains(&result), "{result}");
    }
    let runners: Vec<String> = LESSONS.iter().map(|l| format!("l{}", l.name)).collect();
    assert!(workflow.contains(&format!("runners: {}\n", runners.join(","))));
    assert!(workflow.contains("uses: classroom-resources/autograding-grading-reporter@v1"));
}

#[test]
fn the_gitlab_template_reports_junit_and_the_containerfile_builds_grade() {
    let gitlab = read("grading/gitlab/.gitlab-ci.yml");
    for part in [
        "--format junit -o grade.xml",
        "    reports:\n      junit: grade.xml",
        "    when: always",
        "--student \"$CI_PROJECT_DIR\"",
    ] {
        assert!(gitlab.contains(part), "{part} missing:\n{gitlab}");
    }
    let container = read("Containerfile");
    let from: Vec<&str> = container
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(from.len(), 2, "a build stage and a runtime stage: {from:?}");
    assert!(from[0].ends_with(" AS build"), "{from:?}");
    for part in [
        "RUN cargo build --locked --release --bin grade",
        "COPY --from=build /src/target/release/grade /usr/local/bin/grade",
        "python3",
        "\nUSER 10001\n",
        "ENTRYPOINT [\"grade\"]",
    ] {
        assert!(container.contains(part), "{part} missing:\n{container}");
    }
    // Everything the build copies is in the repository.
    for line in container
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        for path in line
            .split_whitespace()
            .skip(1)
            .take_while(|w| !w.starts_with("./"))
        {
            assert!(root().join(path).exists(), "{path} (in {line})");
        }
    }
}
