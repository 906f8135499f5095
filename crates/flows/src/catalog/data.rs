//! Steps that read and write an environment's keystores and tables.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{StepFields, Successor, check_not_blank, check_save_as};
use crate::field_error::FieldError;
use crate::template::{JsonTemplate, Template};
use crate::where_rules::WhereRules;

/// `keystore.get`: reads `key` from a keystore.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeystoreGetStep {
    pub keystore: String,
    pub key: Template,
    /// The name the value is saved under, for later templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_as: Option<String>,
    pub next: String,
}

impl StepFields for KeystoreGetStep {
    fn check(&self) -> Result<(), FieldError> {
        check_not_blank("keystore", &self.keystore)?;
        check_save_as(self.save_as.as_deref())
    }

    fn successors(&self) -> Vec<Successor<'_>> {
        vec![Successor::new("next", &self.next)]
    }
}

/// `keystore.put`: writes `value` under `key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeystorePutStep {
    pub keystore: String,
    pub key: Template,
    pub value: JsonTemplate,
    pub next: String,
}

impl StepFields for KeystorePutStep {
    fn check(&self) -> Result<(), FieldError> {
        check_not_blank("keystore", &self.keystore)
    }

    fn successors(&self) -> Vec<Successor<'_>> {
        vec![Successor::new("next", &self.next)]
    }
}

/// `keystore.delete`: deletes `key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeystoreDeleteStep {
    pub keystore: String,
    pub key: Template,
    pub next: String,
}

impl StepFields for KeystoreDeleteStep {
    fn check(&self) -> Result<(), FieldError> {
        check_not_blank("keystore", &self.keystore)
    }

    fn successors(&self) -> Vec<Successor<'_>> {
        vec![Successor::new("next", &self.next)]
    }
}

/// `table.insert`: inserts one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableInsertStep {
    pub table: String,
    /// Column → the template written there.
    pub columns: BTreeMap<String, Template>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_as: Option<String>,
    pub next: String,
}

impl StepFields for TableInsertStep {
    fn check(&self) -> Result<(), FieldError> {
        check_not_blank("table", &self.table)?;
        check_columns(&self.columns)?;
        check_save_as(self.save_as.as_deref())
    }

    fn successors(&self) -> Vec<Successor<'_>> {
        vec![Successor::new("next", &self.next)]
    }
}

/// `table.update`: writes `columns` into the rows that match `where`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableUpdateStep {
    pub table: String,
    pub columns: BTreeMap<String, Template>,
    #[serde(rename = "where")]
    pub rules: WhereRules,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_as: Option<String>,
    pub next: String,
}

impl StepFields for TableUpdateStep {
    fn check(&self) -> Result<(), FieldError> {
        check_not_blank("table", &self.table)?;
        check_columns(&self.columns)?;
        check_save_as(self.save_as.as_deref())
    }

    fn successors(&self) -> Vec<Successor<'_>> {
        vec![Successor::new("next", &self.next)]
    }
}

/// `table.search`: finds the rows that match `where` (all rows without it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSearchStep {
    pub table: String,
    #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<WhereRules>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_type: Option<OrderType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_as: Option<String>,
    pub next: String,
}

/// The direction of a `table.search`'s order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderType {
    Asc,
    Desc,
}

impl StepFields for TableSearchStep {
    fn check(&self) -> Result<(), FieldError> {
        check_not_blank("table", &self.table)?;
        if self.limit == Some(0) {
            return Err(FieldError::new("limit", "must be a positive integer"));
        }
        if let Some(field) = &self.order_field {
            check_not_blank("order_field", field)?;
        }
        check_save_as(self.save_as.as_deref())
    }

    fn successors(&self) -> Vec<Successor<'_>> {
        vec![Successor::new("next", &self.next)]
    }
}

fn check_columns(columns: &BTreeMap<String, Template>) -> Result<(), FieldError> {
    if columns.is_empty() {
        return Err(FieldError::new("columns", "must name at least one column"));
    }
    match columns.keys().find(|column| column.trim().is_empty()) {
        Some(_) => Err(FieldError::new("columns", "column names must not be empty")),
        None => Ok(()),
    }
}
