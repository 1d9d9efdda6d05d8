//! The typed data model: types, forms, properties and their normalization.
