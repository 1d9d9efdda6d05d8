//! `$lib.user.vars` / `$lib.user.profile` (the cell's user storage) and `$lib.model.ext`
//! tag properties from Storm, persisted across a reopen.

use crate::util::{dict, genr, open, root, s, user};

/// The `print` texts and the first error name of a `storm()` call.
async fn prints(
    api: &synapse_cell::CellApi<synapse_cortex::cortex::Cortex>,
    text: &str,
) -> (Vec<String>, Option<String>) {
    let mesgs = genr(api, "storm", vec![s(text), dict(vec![])])
        .await
        .unwrap();
    let mut out = Vec::new();
    let mut err = None;
    for mesg in &mesgs {
        let parts = mesg.as_array().unwrap();
        match parts[0].as_str() {
            Some("print") => out.push(
                crate::util::get(&parts[1], "mesg")
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
            Some("err") if err.is_none() => {
                err = parts[1].as_array().unwrap()[0].as_str().map(str::to_owned);
            }
            _ => {}
        }
    }
    (out, err)
}

fn strs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn user_vars_and_profile_persist_per_user() {
    let dir = tempfile::tempdir().unwrap();
    let dirn = dir.path().join("core");
    let core = open(&dirn).await;
    let api = root(&core);
    let (visi, visi_iden) = user(&core, "visi").await;

    let (out, err) = prints(
        &api,
        "$lib.print($lib.user.vars.set(x, (10))) $lib.print($lib.user.vars.set(x, ([1, 2]))) \
         $lib.print($lib.user.vars.get(x)) $lib.print($lib.user.vars.get(nope, default=d)) \
         $lib.user.vars.set(y, ({\"a\": [1, 2]})) $lib.print($lib.user.vars.list())",
    )
    .await;
    assert_eq!(err, None);
    assert_eq!(
        out,
        strs(&[
            "$lib.null",
            "10",
            "[1, 2]",
            "d",
            "[['x', [1, 2]], ['y', {'a': [1, 2]}]]"
        ])
    );
    // the name must be a string
    let (_, err) = prints(&api, "$lib.user.vars.set((1), x)").await;
    assert_eq!(err.as_deref(), Some("StormRuntimeError"));

    let (out, err) = prints(
        &api,
        "$lib.user.profile.set(color, blue) $lib.print($lib.user.profile.get(color)) \
         $lib.print($lib.user.profile.pop(color)) $lib.print($lib.user.profile.pop(color, default=gone)) \
         $lib.user.profile.set(shape, round) \
         for ($k, $v) in $lib.user.profile { $lib.print(`{$k}={$v}`) }",
    )
    .await;
    assert_eq!(err, None);
    assert_eq!(out, strs(&["blue", "blue", "gone", "shape=round"]));

    // each user has their own; `iden` is a property
    let (out, err) = prints(
        &visi,
        "$lib.print($lib.user.vars.get(x)) $lib.user.vars.set(x, mine) $lib.print($lib.user.iden)",
    )
    .await;
    assert_eq!(err, None);
    assert_eq!(out, vec!["$lib.null".to_owned(), visi_iden.clone()]);

    // the cell's auth holds them
    let auth = core.cell().auth();
    let root_iden = auth.root_iden();
    assert_eq!(
        auth.user_profile(&root_iden).unwrap().get("shape"),
        Some(&s("round"))
    );
    assert_eq!(
        auth.user_vars(&visi_iden).unwrap().get("x"),
        Some(&s("mine"))
    );

    core.fini().await;
    let core = open(&dirn).await;
    let api = root(&core);
    let (out, err) = prints(
        &api,
        "$lib.print($lib.user.vars.get(x)) $lib.print($lib.user.profile.get(shape)) \
         $lib.print($lib.user.vars.pop(y))",
    )
    .await;
    assert_eq!(err, None);
    assert_eq!(out, strs(&["[1, 2]", "round", "{'a': [1, 2]}"]));
    core.fini().await;
}

#[tokio::test]
async fn model_ext_tag_props_from_storm_persist() {
    let dir = tempfile::tempdir().unwrap();
    let dirn = dir.path().join("core");
    let core = open(&dirn).await;
    let api = root(&core);

    let (out, err) = prints(
        &api,
        "$lib.print($lib.model.tagprop(score)) \
         $lib.model.ext.addTagProp(score, (int, ({})), ({\"doc\": \"a score\"})) \
         $p=$lib.model.tagprop(score) $lib.print($p.name) $lib.print($p.doc) \
         $lib.print($p.type.repr((10))) \
         [ inet:ipv4=1.2.3.4 +#mal:score=20 ] $lib.print(#mal:score)",
    )
    .await;
    assert_eq!(err, None);
    assert_eq!(out, strs(&["$lib.null", "score", "a score", "10", "20"]));

    // a non-admin may not add one
    let (visi, _) = user(&core, "visi").await;
    let (_, err) = prints(&visi, "$lib.model.ext.addTagProp(other, (int, ({})), ({}))").await;
    assert_eq!(err.as_deref(), Some("AuthDeny"));

    core.fini().await;
    let core = open(&dirn).await;
    let api = root(&core);
    let (out, err) = prints(&api, "$lib.print($lib.model.tagprop(score).name)").await;
    assert_eq!((out, err), (strs(&["score"]), None));
    // in use: refused; unused: removed
    let (_, err) = prints(&api, "$lib.model.ext.delTagProp(score)").await;
    assert_eq!(err.as_deref(), Some("CantDelProp"));
    let (_, err) = prints(&api, "inet:ipv4 [ -#mal:score ]").await;
    assert_eq!(err, None);
    let (out, err) = prints(
        &api,
        "$lib.model.ext.delTagProp(score) $lib.print($lib.model.tagprop(score))",
    )
    .await;
    assert_eq!((out, err), (strs(&["$lib.null"]), None));
    core.fini().await;
}
