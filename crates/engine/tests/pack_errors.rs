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

/// A rule condition the engine does not know is a pack error with its file and line, never
/// silently dropped (which would make the rule fire more broadly than written): an unknown
/// condition name, link kind or behaviour flag, and a misspelt official-domain line.
#[test]
fn unknown_condition_names_are_errors_with_file_and_line() {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("interdict-pack-vocab-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules"),
        &dir,
    );
    let link_line = append(
        &dir,
        "rules.toml",
        "[[rule]]\nid = \"bad-link\"\ndescription = \"x\"\nverdict = \"warn\"\npriority = 1\n[rule.when]\nlink = [\"look-alike\"]\n",
    );
    let flag_line = append(
        &dir,
        "rules.toml",
        "[[rule]]\nid = \"bad-flag\"\ndescription = \"x\"\nverdict = \"warn\"\npriority = 1\n[rule.when]\nbehaviour = [\"sequential\"]\nbehaviour_also = [\"call_rate\"]\n",
    );
    let domain_line = append(&dir, "lists/official_domains.txt", "not a domain\n");
    let err = load_pack(&dir).expect_err("an unknown condition must be refused");
    let text = err.to_string();
    for place in [
        format!("rules.toml:{link_line}"),
        format!("rules.toml:{flag_line}"),
        format!("lists/official_domains.txt:{domain_line}"),
    ] {
        assert!(text.contains(&place), "{place} missing in:\n{text}");
    }
    assert!(
        text.contains("look-alike") && text.contains("sequential"),
        "{text}"
    );
    // An unknown condition name (a misspelling) is refused too, with the rule's file.
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules"),
        &dir,
    );
    let name_line = append(
        &dir,
        "rules.toml",
        "[[rule]]\nid = \"bad-name\"\ndescription = \"x\"\nverdict = \"warn\"\npriority = 1\n[rule.when]\nbehavior = [\"call_rate\"]\n",
    );
    let err = load_pack(&dir).expect_err("a misspelt condition must be refused");
    let text = err.to_string();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        text.contains("rules.toml:") && text.contains("behavior"),
        "{text}"
    );
    assert!(name_line > 0);
}
