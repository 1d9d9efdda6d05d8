//! Storage tests: layers, views, the editor, packed nodes, crash safety.

mod layer {
    mod basic;
    mod editor;
    mod reference;
    mod util;
}
