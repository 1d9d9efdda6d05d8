//! Merge requests and votes of forked views, `view.merge()`, `detach`, `insertParentFork`,
//! `insertChildFork`, `swapLayer`, `addNodeEdits` and the layer storage edits: the reference's
//! answers recorded by `gen_viewmerge.py` replayed against our Cortex, and merge requests,
//! votes and merge history across a restart.

use serde_json::Value as Json;
use synapse_cell::{CellApi, ConnInfo};
use synapse_cortex::cortex::Cortex;

use crate::admin::outcome;
use crate::util::{Core, fresh, open, root};

const RECORDED: &str = include_str!("viewmerge_recorded.json");

/// A session of the user named `name` (root for "root").
fn session(core: &Core, name: &str) -> CellApi<Cortex> {
    if name == "root" {
        return root(core);
    }
    let user = core.cell().auth().user_by_name(name).unwrap();
    core.session(&user.iden, ConnInfo::local())
}

/// Wait until no view is named `name` (a quorum merge runs in the background).
async fn wait_gone(api: &CellApi<Cortex>, funcs: &str, name: &str) {
    let text = format!("{funcs}$lib.print(($v({name}) = $lib.null))");
    for _ in 0..500 {
        let out = outcome(api, &text).await;
        if out == vec![serde_json::json!(["print", "true"])] {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("view {name} was not merged");
}

#[tokio::test]
async fn view_merges_and_forks_match_the_reference() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let recorded: Json = serde_json::from_str(RECORDED).unwrap();
    let funcs = recorded["funcs"].as_str().unwrap();
    for text in recorded["setup"].as_array().unwrap() {
        let out = outcome(&api, text.as_str().unwrap()).await;
        assert!(out.iter().all(|m| m[0] != "err"), "setup {text}: {out:?}");
    }
    let steps = recorded["steps"].as_array().unwrap();
    assert!(steps.len() > 80);
    let mut diffs = Vec::new();
    for step in steps {
        if let Some(name) = step["wait"].as_str() {
            wait_gone(&api, funcs, name).await;
            continue;
        }
        let user = step["user"].as_str().unwrap();
        let text = step["query"].as_str().unwrap();
        let got = outcome(&session(&core, user), &format!("{funcs}{text}")).await;
        let want = step["expect"].as_array().unwrap();
        if &got != want {
            diffs.push(format!(
                "{user} {text}\n  want: {}\n  got:  {}",
                Json::Array(want.clone()),
                Json::Array(got)
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} of {} steps differ:\n{}",
        diffs.len(),
        steps.len(),
        diffs.join("\n")
    );
}

fn prints(out: &[Json]) -> Vec<String> {
    assert!(out.iter().all(|m| m[0] != "err"), "{out:?}");
    out.iter()
        .filter(|m| m[0] == "print")
        .map(|m| m[1].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn merge_requests_votes_and_history_survive_a_restart() {
    const FUNCS: &str = "function v(n) { for $x in $lib.view.list() { if ($x.get(name) = $n) { return($x) } } return($lib.null) } ";
    let dir = tempfile::tempdir().unwrap();
    let dirn = dir.path().join("core");
    {
        let core = open(&dirn).await;
        let api = root(&core);
        let setup = "$r=$lib.auth.roles.add(voters) \
                     $a=$lib.auth.users.add(alice) $a.addRule(([true, [\"view\"]])) \
                     $b=$lib.auth.users.add(bob) $b.grant($r.iden) \
                     $c=$lib.auth.users.add(carol) $c.grant($r.iden) \
                     $lib.view.get().set(quorum, ({\"count\": 2, \"roles\": [$r.iden]}))";
        prints(&outcome(&api, setup).await);
        let alice = session(&core, "alice");
        let text = "$f=$lib.view.get().fork(name=fork1) $f.addNode(inet:fqdn, woot.com) \
                    $f.setMergeRequest(comment=please)";
        prints(&outcome(&alice, &format!("{FUNCS}{text}")).await);
        let bob = session(&core, "bob");
        let text = "$v(fork1).setMergeVote(approved=(false), comment=wait)";
        prints(&outcome(&bob, &format!("{FUNCS}{text}")).await);
        core.fini().await;
    }
    {
        let core = open(&dirn).await;
        let api = root(&core);
        let text = "$s=$v(fork1).getMergeRequestSummary() $lib.print($s.merge.comment) \
                    $lib.print($s.quorum.count) $lib.print($s.merging) \
                    $lib.print($s.votes.0.comment) $lib.print($s.votes.0.approved) \
                    $lib.print(($s.offset = $s.votes.0.offset)) \
                    $lib.print($lib.len($lib.view.get().getMergingViews()))";
        assert_eq!(
            prints(&outcome(&api, &format!("{FUNCS}{text}")).await),
            ["please", "2", "false", "wait", "false", "true", "1"]
        );
        for user in ["bob", "carol"] {
            let text = "$lib.print($v(fork1).setMergeVote().approved)";
            let out = outcome(&session(&core, user), &format!("{FUNCS}{text}")).await;
            assert_eq!(prints(&out), ["true"]);
        }
        wait_gone(&api, FUNCS, "fork1").await;
        let out = outcome(&api, "inet:fqdn=woot.com").await;
        assert_eq!(out.len(), 1, "{out:?}");
        core.fini().await;
    }
    let core = open(&dirn).await;
    let api = root(&core);
    let text = "for $m in $lib.view.get().getMerges() { $lib.print($m.comment) \
                $lib.print($lib.len($m.votes)) $lib.print(($m.merged > 0)) } \
                $lib.print($lib.len($lib.view.list()))";
    assert_eq!(
        prints(&outcome(&api, text).await),
        ["please", "2", "true", "1"]
    );
    // the merged fork's layer is gone too
    let text = "$lib.print($lib.len($lib.layer.list()))";
    assert_eq!(prints(&outcome(&api, text).await), ["1"]);
    core.fini().await;
}
