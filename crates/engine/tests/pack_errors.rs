//! A broken rule pack is refused with EVERY problem reported, each with its file and line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use interdict_engine::load_pack;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn append(dir: &Path, file: &str, text: &str) -> usize {
    let path = dir.join(file);
    let mut content = std::fs::read_to_string(&path).unwrap();
    if !content.ends_with('\n') {
        content.push('\n');
    }
    let line = content.lines().count() + 1;
    content.push_str(text);
    std::fs::write(&path, content).unwrap();
    line
}

#[test]
fn every_problem_is_reported_with_file_and_line() {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("interdict-pack-errors-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules"),
        &dir,
    );
    let regex_line = append(
        &dir,
        "patterns.txt",
        "broken_regex\tpolice_impersonation\t3\t(unclosed\n",
    );
    let cat_line = append(&dir, "patterns.txt", "orphan\tno_such_category\t3\tabc\n");
    let weight_line = append(&dir, "phrases/loan_credit.txt", "测试短语 12\n");
    let number_line = append(&dir, "lists/fraud_numbers.txt", "1380013800!\n");
    let dup_line = append(&dir, "lists/fraud_numbers.txt", "+8617100000001\n");
    let err = load_pack(&dir).expect_err("a broken pack must be refused");
    let text = err.to_string();
    let _ = std::fs::remove_dir_all(&dir);
    for place in [
        format!("patterns.txt:{regex_line}"),
        format!("patterns.txt:{cat_line}"),
        format!("phrases/loan_credit.txt:{weight_line}"),
        format!("lists/fraud_numbers.txt:{number_line}"),
        format!("lists/fraud_numbers.txt:{dup_line}"),
    ] {
        assert!(text.contains(&place), "{place} missing from:\n{text}");
    }
    assert_eq!(err.errors().len(), 5, "{text}");
}

#[test]
fn rules_referring_to_unknown_lists_and_flags_are_refused() {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("interdict-pack-rules-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules"),
        &dir,
    );
    let line = append(
        &dir,
        "rules.toml",
        "\n[[rule]]\nid = \"bad\"\ndescription = \"x\"\nverdict = \"block\"\npriority = 1\n[rule.when]\ncaller_in = [\"nope\"]\nbehaviour = [\"teleport\"]\n",
    );
    let err = load_pack(&dir).expect_err("refused");
    let _ = std::fs::remove_dir_all(&dir);
    let text = err.to_string();
    // The [[rule]] table starts on the line after the blank one we appended.
    assert!(text.contains(&format!("rules.toml:{}", line + 1)), "{text}");
    assert!(text.contains("unknown list \"nope\""), "{text}");
    assert!(text.contains("teleport"), "{text}");
}
