//! BaseRef: a named registry whose members leave when torn down.

use synapse_base::{Base, BaseRef};

#[tokio::test]
async fn member_leaves_on_fini_and_pop_returns_it() {
    let refs: BaseRef<u32> = BaseRef::new();
    let one = Base::new();
    let two = Base::new();
    refs.put("one", &one, 1);
    refs.put("two", &two, 2);
    assert_eq!(refs.len(), 2);
    assert_eq!(refs.get("one"), Some(1));

    one.fini().await;
    assert_eq!(refs.get("one"), None);
    assert_eq!(refs.items(), [("two".to_owned(), 2)]);

    assert_eq!(refs.pop("two"), Some(2));
    assert_eq!(refs.pop("two"), None);
    assert!(refs.is_empty());
    two.fini().await;
}

#[tokio::test]
async fn replaced_entry_is_not_removed_by_the_old_member() {
    let refs: BaseRef<&'static str> = BaseRef::new();
    let old = Base::new();
    let new = Base::new();
    refs.put("tank", &old, "old");
    refs.put("tank", &new, "new");
    old.fini().await;
    assert_eq!(refs.get("tank"), Some("new"));
    new.fini().await;
    assert_eq!(refs.get("tank"), None);
}

#[tokio::test]
async fn get_or_make_increfs_existing_members() {
    let refs: BaseRef<Base> = BaseRef::new();
    let made = refs
        .get_or_make("tank", |_| async {
            let base = Base::new();
            Ok::<_, ()>((base.clone(), base))
        })
        .await
        .unwrap();
    assert_eq!(made.refs(), 1);
    let again = refs
        .get_or_make("tank", |_| async { Err::<(Base, Base), ()>(()) })
        .await
        .unwrap();
    assert_eq!(again.refs(), 2);

    // Two holders: the first fini only decrements.
    assert_eq!(made.fini().await, 1);
    assert_eq!(refs.len(), 1);
    assert_eq!(again.fini().await, 0);
    assert!(refs.is_empty());
}

#[tokio::test]
async fn get_or_make_propagates_ctor_errors() {
    let refs: BaseRef<u8> = BaseRef::new();
    let res = refs
        .get_or_make("x", |name| async move { Err::<(Base, u8), String>(name) })
        .await;
    assert_eq!(res, Err("x".to_owned()));
    assert!(refs.is_empty());
}

#[tokio::test]
async fn fini_all_tears_down_every_member() {
    let refs: BaseRef<Base> = BaseRef::new();
    let bases: Vec<Base> = (0..3).map(|_| Base::new()).collect();
    for (idx, base) in bases.iter().enumerate() {
        refs.put(&idx.to_string(), base, base.clone());
    }
    refs.fini_all().await;
    assert!(bases.iter().all(Base::is_fini));
    assert!(refs.is_empty());
}
