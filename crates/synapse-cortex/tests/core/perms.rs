//! The editor permission hook: the reference's permission names, AuthDeny messages and the
//! precedence between the new (`node.prop.set.<form>.<prop>`) and legacy
//! (`node.prop.set.<form:prop>`) property permissions.

use synapse_cell::Rule;
use synapse_cortex::cortex::UserPerms;
use synapse_cortex::view::EditPerm;

use crate::util::*;

/// Rules of a user and whether they allow setting `inet:ipv4:asn`.
type Case<'a> = (&'a [(bool, &'a [&'a str])], bool);

const ASN: EditPerm<'static> = EditPerm::PropSet {
    form: "inet:ipv4",
    prop: "asn",
};

async fn rules(core: &Core, iden: &str, rules: &[(bool, &[&str])], gate: Option<&str>) {
    let rules = rules
        .iter()
        .map(|(allow, path)| Rule::new(*allow, path))
        .collect();
    core.cell()
        .auth()
        .set_user_rules(iden, rules, gate)
        .await
        .unwrap();
}

#[tokio::test]
async fn edit_permissions_follow_the_reference() {
    let (_dir, core) = fresh().await;
    let layer = core.service().default_view().write_layer().iden();
    let (_, iden) = user(&core, "visi").await;
    let perms = UserPerms::new(core.cell().auth().clone(), &iden, &layer);

    let err = perms
        .confirm(&EditPerm::NodeAdd { form: "inet:ipv4" })
        .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    assert_eq!(
        err.mesg(),
        format!(
            "User 'visi' ({iden}) must have permission node.add.inet:ipv4 on object {layer} (layer)."
        )
    );
    assert_eq!(err.get("username").and_then(|v| v.as_str()), Some("visi"));

    // tags: the tag's parts make the permission
    rules(
        &core,
        &iden,
        &[(true, &["node", "tag", "add", "foo"])],
        Some(&layer),
    )
    .await;
    perms.confirm(&EditPerm::TagAdd { tag: "foo.bar" }).unwrap();
    let err = perms.confirm(&EditPerm::TagAdd { tag: "baz" }).unwrap_err();
    assert!(
        err.mesg()
            .contains("must have permission node.tag.add.baz on object"),
        "{}",
        err.mesg()
    );
    assert!(perms.confirm(&EditPerm::TagDel { tag: "foo" }).is_err());

    // property permissions: new name, legacy name, and which rule is more specific
    let cases: &[Case<'_>] = &[
        (&[], false),
        (
            &[(true, &["node", "prop", "set", "inet:ipv4", "asn"])],
            true,
        ),
        (&[(true, &["node", "prop", "set", "inet:ipv4:asn"])], true),
        (&[(true, &["node", "prop", "set"])], true),
        (
            &[
                (false, &["node", "prop", "set", "inet:ipv4:asn"]),
                (true, &["node", "prop", "set"]),
            ],
            false,
        ),
        (
            &[
                (false, &["node", "prop", "set", "inet:ipv4"]),
                (true, &["node", "prop", "set", "inet:ipv4:asn"]),
            ],
            false,
        ),
        (
            &[
                (true, &["node", "prop", "set", "inet:ipv4:asn"]),
                (false, &["node", "prop"]),
            ],
            true,
        ),
        (
            &[
                (true, &["node", "prop", "set", "inet:ipv4", "asn"]),
                (false, &["node", "prop", "set", "inet:ipv4:asn"]),
            ],
            true,
        ),
    ];
    for (idx, (set, allowed)) in cases.iter().enumerate() {
        rules(&core, &iden, set, None).await;
        let res = perms.confirm(&ASN);
        assert_eq!(res.is_ok(), *allowed, "case {idx}: {res:?}");
        if let Err(err) = res {
            assert_eq!(
                err.mesg(),
                format!(
                    "User 'visi' ({iden}) must have permission node.prop.set.inet:ipv4.asn on object {layer} (layer)."
                )
            );
        }
    }
    // universal props on a form use `<form>.<prop>` as the legacy name
    rules(
        &core,
        &iden,
        &[(true, &["node", "prop", "set", "inet:ipv4.seen"])],
        None,
    )
    .await;
    perms
        .confirm(&EditPerm::PropSet {
            form: "inet:ipv4",
            prop: ".seen",
        })
        .unwrap();
    rules(
        &core,
        &iden,
        &[(true, &["node", "prop", "del", "inet:ipv4", "asn"])],
        None,
    )
    .await;
    perms
        .confirm(&EditPerm::PropDel {
            form: "inet:ipv4",
            prop: "asn",
        })
        .unwrap();

    // roles' gate rules count; a gate admin may do anything there
    rules(&core, &iden, &[], None).await;
    let all = core.cell().auth().all_role_iden();
    core.cell()
        .auth()
        .add_role_rule(&all, Rule::new(true, &["node", "edge"]), None, Some(&layer))
        .await
        .unwrap();
    perms.confirm(&EditPerm::EdgeAdd { verb: "refs" }).unwrap();
    assert!(perms.confirm(&EditPerm::DataSet { name: "x" }).is_err());
    core.cell()
        .auth()
        .set_user_admin(&iden, true, Some(&layer))
        .await
        .unwrap();
    perms.confirm(&EditPerm::DataSet { name: "x" }).unwrap();
    perms.confirm(&ASN).unwrap();
    // ... but not on another layer
    let other = UserPerms::new(
        core.cell().auth().clone(),
        &iden,
        "ffffffffffffffffffffffffffffffff",
    );
    assert!(other.confirm(&EditPerm::DataSet { name: "x" }).is_err());
    // a locked user may do nothing
    core.cell()
        .auth()
        .set_user_locked(&iden, true)
        .await
        .unwrap();
    assert!(perms.confirm(&EditPerm::DataSet { name: "x" }).is_err());
}

#[tokio::test]
async fn editor_refuses_edits_with_the_hook() {
    let (_dir, core) = fresh().await;
    let cortex = core.service().clone();
    let (_, iden) = user(&core, "visi").await;
    let visi = cortex.user(&iden).unwrap();
    let view = cortex.default_view();
    let layer = view.write_layer().iden();
    allow(&core, &iden, &["node", "add", "inet:fqdn"], Some(&layer)).await;
    let mut editor = view.editor(
        synapse_cortex::nodeedit::EditMeta::now(iden.as_str()),
        cortex.edit_perms(&visi, &view),
    );
    let node = editor
        .add_node("inet:fqdn", &s("vertex.link"))
        .await
        .unwrap()
        .unwrap();
    let err = editor.add_tag(&node, "foo", None).await.unwrap_err();
    let err = synapse_cortex::cortex::view_error(err);
    assert_eq!(err.name(), "AuthDeny");
    assert_eq!(
        err.mesg(),
        format!(
            "User 'visi' ({iden}) must have permission node.tag.add.foo on object {layer} (layer)."
        )
    );
    assert!(editor.add_node("inet:ipv4", &s("1.2.3.4")).await.is_err());
    editor.apply().await.unwrap();
    assert!(
        view.get_node(synapse_cortex::nodeedit::buid(
            "inet:fqdn",
            &s("vertex.link")
        ))
        .await
        .unwrap()
        .is_some()
    );

    // view.read and impersonation helpers
    let opts = dict(vec![("view", s("ffffffffffffffffffffffffffffffff"))]);
    assert_eq!(
        cortex.view_from_opts(&opts, &visi).unwrap_err().name(),
        "NoSuchView"
    );
    let user = cortex.user_from_opts(&dict(vec![])).unwrap();
    assert_eq!(user.name, "root");
    let user = cortex
        .user_from_opts(&dict(vec![("user", s(&iden))]))
        .unwrap();
    assert_eq!(user.name, "visi");
    assert_eq!(
        cortex
            .user_from_opts(&dict(vec![("user", s("ffff"))]))
            .unwrap_err()
            .name(),
        "NoSuchUser"
    );
}
