//! Storage tests: layers, views, the editor, packed nodes, crash safety.

#![allow(clippy::unwrap_used)]

mod layer {
    mod basic;
    mod crash;
    mod editor;
    mod nodes;
    mod reference;
    mod util;
    mod views;
}
