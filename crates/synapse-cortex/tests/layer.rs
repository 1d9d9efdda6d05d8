//! Storage tests: layers, views, the editor, packed nodes, crash safety.

mod layer {
    mod basic;
    mod editor;
    mod nodes;
    mod views;
    mod reference;
    mod util;
}
