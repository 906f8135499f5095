//! The tables service: the tenants' own tables — a name and typed columns (`string`,
//! `integer`, `number`, `boolean`, `date`, `datetime`, `json`), each row with an `id`, a
//! `date_created` and a `date_updated` — their definitions, their rows and their search.
//!
//! Each tenant table is a real PostgreSQL table, `flowline_tables.tbl_<table_id>`, with one
//! native column `c_<column_id>` per typed column, so that values keep their type, an index on
//! a column is an ordinary btree the planner can use, and a search over a million rows reads a
//! few index pages. Every identifier in the SQL of this crate is generated from catalog ids
//! ([`physical`]); names that clients choose live only in the catalog (`data_tables`,
//! `data_table_columns`) and in bound parameters. DDL and the catalog rows it matches are
//! written in one transaction.
//!
//! Row operations lock the physical table before they read its columns from the catalog, so
//! that a concurrent change of definition (which holds a stronger lock until it commits) is
//! either entirely before or entirely after them.
//!
//! Where-rules go through `flowline_core::rules` (`Rules::to_sql` over typed columns); this
//! crate never compiles a filter of its own. It knows nothing of HTTP and never logs values.

mod access;
mod catalog;
mod column;
mod definition;
mod environment;
mod load;
mod name;
mod physical;
mod rows;
mod search;
mod selection;
mod value;

pub use catalog::{
    MAX_COLUMNS, MAX_TABLES_PER_ENVIRONMENT, alter_table, create_table, delete_table, get_table,
    list_tables, list_tables_for_org,
};
pub use column::ColumnType;
pub use definition::{
    ColumnDefinition, ColumnSpec, NewTable, TableChanges, TableDefinition, TableId,
};
pub use environment::{
    drop_environment_tables, environment_tables_bytes, vacuum_environment_tables,
};
pub use load::{ExistingRow, Loaded, load_rows};
pub use name::{ColumnName, MAX_NAME_LENGTH, RESERVED_COLUMNS, TableName};
pub use rows::{
    InsertRequest, RowId, UpdateRequest, delete_row, get_row, insert_row, insert_rows, update_row,
    update_rows,
};
pub use search::{SearchPage, explain_search, search};
pub use selection::{
    DEFAULT_LIMIT, Direction, MAX_LIMIT, MAX_OFFSET, Order, Selection, TOTAL_LOOKAHEAD,
};
pub use value::MAX_INDEXED_TEXT_BYTES;
