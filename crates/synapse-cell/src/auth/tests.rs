//! Unit tests of the auth model.

use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::store::MemStore;

fn perm(text: &str) -> Vec<String> {
    text.split('.').map(str::to_string).collect()
}

async fn open(store: Arc<MemStore>) -> Auth {
    Auth::open(store, AuthOptions::for_cell(&"0".repeat(32)))
        .await
        .unwrap()
}

#[tokio::test]
async fn root_and_all_have_the_reference_idens() {
    let auth = open(Arc::new(MemStore::new())).await;
    // Computed with synapse.common.guid() for a cell iden of 32 zeros.
    assert_eq!(auth.root_iden(), "75a902a77878993e14e07366892fff43");
    let root = auth.user_by_name("root").unwrap();
    assert!(root.is_admin());
    assert!(!root.is_locked());
    assert!(root.roles.is_empty());
    assert!(auth.role_by_name("all").is_some());
}

#[tokio::test]
async fn new_users_get_the_all_role_and_names_are_unique() {
    let auth = open(Arc::new(MemStore::new())).await;
    let visi = auth
        .add_user("visi", None, Some(" Visi@Vertex.Link "), None)
        .await
        .unwrap();
    assert_eq!(visi.roles, vec![auth.all_role_iden()]);
    assert_eq!(visi.email.as_deref(), Some("visi@vertex.link"));
    let err = auth.add_user("visi", None, None, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrKind::DupUserName);
    assert_eq!(
        err.mesg(),
        "Duplicate username, name='visi' already exists."
    );
    let err = auth
        .add_user("other", None, Some("visi@vertex.link"), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrKind::DupUserEmail);
    let err = auth
        .add_user("x", None, None, Some("nope"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrKind::BadArg);
    let err = auth
        .add_user("y", None, None, Some(&visi.iden))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrKind::DupIden);
    // names are not checked for format
    auth.add_user("bad name", None, None, None).await.unwrap();
    let names: Vec<String> = auth.users().iter().map(|u| u.name.clone()).collect();
    assert_eq!(names, ["bad name", "root", "visi"]);
}

#[tokio::test]
async fn permission_check_order() {
    let auth = open(Arc::new(MemStore::new())).await;
    let user = auth.add_user("visi", None, None, None).await.unwrap();
    let role = auth.add_role("analysts", None).await.unwrap();
    auth.grant(&user.iden, &role.iden, None).await.unwrap();
    auth.add_auth_gate("g".repeat(32).as_str(), "view")
        .await
        .unwrap();
    let gate = "g".repeat(32);

    assert_eq!(
        auth.allowed(&user.iden, &perm("node.add"), None, None),
        None
    );
    assert_eq!(
        auth.allowed(&user.iden, &perm("node.add"), Some(false), None),
        Some(false)
    );

    // role rules
    auth.add_role_rule(&role.iden, Rule::new(true, &["node"]), None, None)
        .await
        .unwrap();
    assert_eq!(
        auth.allowed(&user.iden, &perm("node.add.inet:fqdn"), None, None),
        Some(true)
    );

    // user rules come before role rules; order within rules matters
    auth.set_user_rules(
        &user.iden,
        vec![
            Rule::new(true, &["node", "add"]),
            Rule::new(false, &["node"]),
        ],
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        auth.allowed(&user.iden, &perm("node.add"), None, None),
        Some(true)
    );
    assert_eq!(
        auth.allowed(&user.iden, &perm("node.del"), None, None),
        Some(false)
    );
    auth.add_user_rule(&user.iden, Rule::new(true, &["node", "del"]), Some(0), None)
        .await
        .unwrap();
    assert_eq!(
        auth.allowed(&user.iden, &perm("node.del"), None, None),
        Some(true)
    );
    assert!(
        auth.del_user_rule(&user.iden, &Rule::new(true, &["node", "del"]), None)
            .await
            .unwrap()
    );
    assert!(
        !auth
            .del_user_rule(&user.iden, &Rule::new(true, &["node", "del"]), None)
            .await
            .unwrap()
    );

    // gate rules of the user come first
    auth.set_user_rules(
        &user.iden,
        vec![Rule::new(true, &["node", "del"])],
        Some(&gate),
    )
    .await
    .unwrap();
    assert_eq!(
        auth.allowed(&user.iden, &perm("node.del"), None, Some(&gate)),
        Some(true)
    );
    assert_eq!(
        auth.allowed(&user.iden, &perm("node.del"), None, None),
        Some(false)
    );

    // role gate rules come after the user's own rules
    auth.set_role_rules(
        &role.iden,
        vec![Rule::new(true, &["view", "read"])],
        Some(&gate),
    )
    .await
    .unwrap();
    assert_eq!(
        auth.allowed(&user.iden, &perm("view.read"), None, Some(&gate)),
        Some(true)
    );
    assert_eq!(
        auth.allowed(&user.iden, &perm("view.read"), None, None),
        None
    );
    assert_eq!(
        auth.role_allowed(&role.iden, &perm("view.read"), None, Some(&gate)),
        Some(true)
    );

    // gate admin passes everything on that gate
    auth.set_user_admin(&user.iden, true, Some(&gate))
        .await
        .unwrap();
    assert_eq!(
        auth.allowed(&user.iden, &perm("anything"), None, Some(&gate)),
        Some(true)
    );
    assert_eq!(
        auth.allowed(&user.iden, &perm("anything"), None, None),
        None
    );
    let gdef = auth.gate(&gate).unwrap();
    assert_eq!(gdef.users.len(), 1);
    assert!(gdef.users[0].1.is_admin());

    // deep deny
    assert_eq!(
        auth.allowed_deep(&user.iden, &perm("node"), Some(true), None),
        Some(false)
    );

    // global admin passes, locked fails even for admins
    auth.set_user_admin(&user.iden, true, None).await.unwrap();
    assert_eq!(
        auth.allowed(&user.iden, &perm("node.del"), None, None),
        Some(true)
    );
    auth.set_user_locked(&user.iden, true).await.unwrap();
    assert_eq!(
        auth.allowed(&user.iden, &perm("node.add"), None, None),
        Some(false)
    );

    // deleting the gate removes the entries
    auth.del_auth_gate(&gate).await.unwrap();
    assert!(auth.req_user(&user.iden).unwrap().authgates.is_empty());
    assert!(auth.req_role(&role.iden).unwrap().authgates.is_empty());
}

#[tokio::test]
async fn everything_survives_a_reload() {
    let store = Arc::new(MemStore::new());
    let (useriden, roleiden) = {
        let auth = open(store.clone()).await;
        let user = auth
            .add_user("visi", Some("secret"), Some("v@v.l"), None)
            .await
            .unwrap();
        let role = auth.add_role("analysts", None).await.unwrap();
        auth.grant(&user.iden, &role.iden, None).await.unwrap();
        auth.add_user_rule(&user.iden, Rule::new(false, &["x"]), None, None)
            .await
            .unwrap();
        auth.add_auth_gate(&"a".repeat(32), "layer").await.unwrap();
        auth.set_role_rules(
            &role.iden,
            vec![Rule::new(true, &["y"])],
            Some(&"a".repeat(32)),
        )
        .await
        .unwrap();
        auth.set_user_profile(&user.iden, "color", Value::from("blue"))
            .await
            .unwrap();
        auth.set_user_var(&user.iden, "v", Value::from(1))
            .await
            .unwrap();
        auth.add_api_key(&user.iden, "k", None).await.unwrap();
        (user.iden.clone(), role.iden.clone())
    };
    let auth = open(store).await;
    let user = auth.req_user(&useriden).unwrap();
    assert_eq!(user.name, "visi");
    assert_eq!(user.roles.len(), 2);
    assert_eq!(user.rules, vec![Rule::new(false, &["x"])]);
    assert!(
        auth.try_user_passwd(&useriden, Some("secret"))
            .await
            .unwrap()
    );
    assert!(
        !auth
            .try_user_passwd(&useriden, Some("wrong"))
            .await
            .unwrap()
    );
    assert_eq!(auth.user_by_email("V@V.L").unwrap().unwrap().iden, useriden);
    let gate = auth.gate(&"a".repeat(32)).unwrap();
    assert_eq!(gate.typ, "layer");
    assert_eq!(gate.roles[0].0, roleiden);
    assert_eq!(
        auth.user_profile(&useriden).unwrap().get("color"),
        Some(&Value::from("blue"))
    );
    assert_eq!(
        auth.user_vars(&useriden).unwrap().get("v"),
        Some(&Value::from(1))
    );
    assert_eq!(auth.list_api_keys(&useriden).unwrap().len(), 1);
    assert_eq!(auth.roles().len(), 2);
}

#[tokio::test]
async fn passwords_locks_and_onepass() {
    let auth = open(Arc::new(MemStore::new())).await;
    let user = auth.add_user("visi", None, None, None).await.unwrap();
    // no password set: nothing matches
    assert!(!auth.try_user_passwd(&user.iden, Some("")).await.unwrap());
    assert!(!auth.try_user_passwd(&user.iden, None).await.unwrap());
    let err = auth
        .set_user_passwd(&user.iden, Some(""), true)
        .await
        .unwrap_err();
    assert_eq!(err.mesg(), "Password must be a string");
    auth.set_user_passwd(&user.iden, Some("pass"), true)
        .await
        .unwrap();
    assert!(
        auth.try_user_passwd(&user.iden, Some("pass"))
            .await
            .unwrap()
    );
    auth.set_user_locked(&user.iden, true).await.unwrap();
    assert!(
        !auth
            .try_user_passwd(&user.iden, Some("pass"))
            .await
            .unwrap()
    );
    auth.set_user_locked(&user.iden, false).await.unwrap();
    // one-time password works once
    let once = auth.gen_user_onepass(&user.iden, 60000).await.unwrap();
    assert!(auth.try_user_passwd(&user.iden, Some(&once)).await.unwrap());
    assert!(!auth.try_user_passwd(&user.iden, Some(&once)).await.unwrap());
    // expired one-time password fails
    let once = auth.gen_user_onepass(&user.iden, -1).await.unwrap();
    assert!(!auth.try_user_passwd(&user.iden, Some(&once)).await.unwrap());
    // clearing the password
    auth.set_user_passwd(&user.iden, None, true).await.unwrap();
    assert!(
        !auth
            .try_user_passwd(&user.iden, Some("pass"))
            .await
            .unwrap()
    );
    // root rules
    let root = auth.root_iden();
    assert_eq!(
        auth.set_user_locked(&root, true).await.unwrap_err().kind(),
        ErrKind::BadArg
    );
    assert_eq!(
        auth.set_user_archived(&root, true)
            .await
            .unwrap_err()
            .kind(),
        ErrKind::BadArg
    );
    assert_eq!(
        auth.set_user_admin(&root, false, None)
            .await
            .unwrap_err()
            .kind(),
        ErrKind::BadArg
    );
    assert_eq!(
        auth.del_user(&root).await.unwrap_err().kind(),
        ErrKind::BadArg
    );
    // archive locks; archived users cannot be unlocked
    auth.set_user_archived(&user.iden, true).await.unwrap();
    assert!(auth.req_user(&user.iden).unwrap().is_locked());
    assert_eq!(
        auth.set_user_locked(&user.iden, false)
            .await
            .unwrap_err()
            .mesg(),
        "Cannot unlock archived user."
    );
}

#[tokio::test]
async fn policy_attempts_lock_users_but_not_root() {
    let opts = AuthOptions {
        policy: Some(json!({"attempts": 2, "previous": 1, "complexity": {"length": 4}})),
        ..AuthOptions::for_cell(&"1".repeat(32))
    };
    let auth = Auth::open(Arc::new(MemStore::new()), opts).await.unwrap();
    let user = auth
        .add_user("visi", Some("pass1"), None, None)
        .await
        .unwrap();
    let err = auth
        .set_user_passwd(&user.iden, Some("abc"), true)
        .await
        .unwrap_err();
    assert!(
        err.mesg()
            .contains("Password must be at least 4 characters."),
        "{}",
        err.mesg()
    );
    let err = auth
        .set_user_passwd(&user.iden, Some("pass1"), true)
        .await
        .unwrap_err();
    assert!(
        err.mesg()
            .contains("Password cannot be the same as previous 1 password(s).")
    );
    assert!(!auth.try_user_passwd(&user.iden, Some("bad")).await.unwrap());
    assert!(!auth.req_user(&user.iden).unwrap().is_locked());
    assert!(!auth.try_user_passwd(&user.iden, Some("bad")).await.unwrap());
    assert!(auth.req_user(&user.iden).unwrap().is_locked());
    let root = auth.root_iden();
    auth.set_user_passwd(&root, Some("rootpass"), false)
        .await
        .unwrap();
    for _ in 0..3 {
        assert!(!auth.try_user_passwd(&root, Some("bad")).await.unwrap());
    }
    assert!(!auth.req_user(&root).unwrap().is_locked());
}

#[tokio::test]
async fn max_users_counts_active_non_root_users() {
    let opts = AuthOptions {
        maxusers: 1,
        ..AuthOptions::for_cell(&"2".repeat(32))
    };
    let auth = Auth::open(Arc::new(MemStore::new()), opts).await.unwrap();
    let user = auth.add_user("a", None, None, None).await.unwrap();
    let err = auth.add_user("b", None, None, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrKind::HitLimit);
    assert_eq!(err.mesg(), "Cell at maximum number of users (1).");
    auth.set_user_locked(&user.iden, true).await.unwrap();
    let other = auth.add_user("b", None, None, None).await.unwrap();
    assert_eq!(
        auth.set_user_locked(&user.iden, false)
            .await
            .unwrap_err()
            .kind(),
        ErrKind::HitLimit
    );
    auth.del_user(&other.iden).await.unwrap();
    auth.set_user_locked(&user.iden, false).await.unwrap();
}

#[tokio::test]
async fn roles_grant_revoke_and_delete() {
    let auth = open(Arc::new(MemStore::new())).await;
    let user = auth.add_user("visi", None, None, None).await.unwrap();
    let role = auth.add_role("analysts", None).await.unwrap();
    assert_eq!(
        auth.add_role("analysts", None).await.unwrap_err().kind(),
        ErrKind::DupRoleName
    );
    auth.grant(&user.iden, &role.iden, Some(0)).await.unwrap();
    assert_eq!(auth.req_user(&user.iden).unwrap().roles[0], role.iden);
    let all = auth.all_role_iden();
    assert_eq!(
        auth.revoke(&user.iden, &all).await.unwrap_err().kind(),
        ErrKind::BadArg
    );
    assert_eq!(
        auth.del_role(&all).await.unwrap_err().kind(),
        ErrKind::BadArg
    );
    let err = auth
        .set_user_roles(&user.iden, vec![role.iden.clone()])
        .await
        .unwrap_err();
    assert_eq!(err.mesg(), "Role \"all\" must be in the list of roles set.");
    auth.del_role(&role.iden).await.unwrap();
    assert_eq!(auth.req_user(&user.iden).unwrap().roles, vec![all]);
    let err = auth.grant(&user.iden, &role.iden, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrKind::NoSuchRole);
    let packed = auth.pack_user(&auth.req_user(&user.iden).unwrap(), PackRoles::Names);
    assert_eq!(crate::value::to_json(&packed)["roles"], json!(["all"]));
}

#[tokio::test]
async fn api_keys_check() {
    let auth = open(Arc::new(MemStore::new())).await;
    let user = auth.add_user("visi", None, None, None).await.unwrap();
    let (key, kdef) = auth.add_api_key(&user.iden, "mykey", None).await.unwrap();
    let (found, who) = auth.check_api_key(&key).await.unwrap();
    assert_eq!(found.iden, kdef.iden);
    assert_eq!(who.iden, user.iden);
    assert!(auth.check_api_key("bogus").await.is_err());
    auth.set_user_locked(&user.iden, true).await.unwrap();
    assert!(auth.check_api_key(&key).await.is_err());
    auth.set_user_locked(&user.iden, false).await.unwrap();
    let (expiring, _) = auth
        .add_api_key(&user.iden, "short", Some(1))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert!(auth.check_api_key(&expiring).await.is_err());
    assert_eq!(
        auth.add_api_key(&user.iden, "bad", Some(0))
            .await
            .unwrap_err()
            .kind(),
        ErrKind::BadArg
    );
    let renamed = auth
        .mod_api_key(&kdef.iden, "name", &Value::from("new"))
        .await
        .unwrap();
    assert_eq!(renamed.name, "new");
    assert!(auth.del_api_key(&kdef.iden).await.unwrap());
    assert_eq!(
        auth.del_api_key(&kdef.iden).await.unwrap_err().kind(),
        ErrKind::NoSuchIden
    );
    auth.del_user(&user.iden).await.unwrap();
    assert!(auth.api_keys().is_empty());
}
