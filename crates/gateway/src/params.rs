//! Request parameters that the reference lets a client send either as a header or in the URL
//! (`X-Uuid` or `uuid`, `X-Flow` or `flow_name`, …). Headers win.

use crate::authn::query_params;
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use flowline_core::Error;
use http::HeaderMap;
use http::request::Parts;
use std::collections::HashMap;
use std::convert::Infallible;
use std::str::FromStr;
use uuid::Uuid;

/// A request's headers and URL parameters, for parameters that may come from either.
#[derive(Debug, Clone)]
pub struct Params {
    headers: HeaderMap,
    query: HashMap<String, String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Params {
            headers: parts.headers.clone(),
            query: query_params(parts.uri.query()),
        })
    }
}

/// Where a parameter may be found: its header name, spelled as the reference spells it (it is
/// what error messages show; header lookups ignore case), and its URL parameter name.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub header: &'static str,
    pub url: &'static str,
}

impl Param {
    pub const fn new(header: &'static str, url: &'static str) -> Param {
        Param { header, url }
    }
}

impl Params {
    /// Parameters given as URL parameters, by their URL names: how the SOAP endpoint hands
    /// an envelope's fields to the handler of its REST twin.
    pub fn from_url_parameters<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Params {
        Params {
            headers: HeaderMap::new(),
            query: pairs
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
        }
    }

    /// The parameter's trimmed, non-empty value, with the name it came under: the header's
    /// if the header is present, otherwise the URL parameter's.
    pub fn get(&self, param: Param) -> Option<(&'static str, &str)> {
        if let Some(value) = self.headers.get(param.header) {
            // UTF-8 rather than `to_str`, which refuses anything beyond visible ASCII.
            let value = std::str::from_utf8(value.as_bytes())
                .unwrap_or_default()
                .trim();
            return (!value.is_empty()).then_some((param.header, value));
        }
        let value = self.query.get(param.url)?.trim();
        (!value.is_empty()).then_some((param.url, value))
    }

    /// Like [`Params::get`], but a missing value is a 400 naming both forms.
    pub fn require(&self, param: Param) -> Result<(&'static str, &str), ApiError> {
        self.get(param).ok_or_else(|| {
            ApiError(Error::invalid_field(
                param.header,
                format!("is required (or the URL parameter '{}')", param.url),
            ))
        })
    }

    /// The parameter parsed as `T`; a value that does not parse is a 400 naming the form used.
    pub fn parse<T: FromStr>(&self, param: Param, expected: &str) -> Result<Option<T>, ApiError> {
        self.get(param)
            .map(|(name, value)| {
                value.parse().map_err(|_| {
                    ApiError(Error::invalid_field(
                        name,
                        format!("'{value}' is not {expected}"),
                    ))
                })
            })
            .transpose()
    }

    /// A record's uuid, as `X-Uuid` or `uuid`.
    pub fn uuid(&self, param: Param) -> Result<Option<Uuid>, ApiError> {
        self.parse(param, "a valid UUID")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const FLOW: Param = Param::new("X-Flow", "flow_name");

    fn params(headers: &[(&'static str, &'static str)], query: &str) -> Params {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_static(value));
        }
        Params {
            headers: map,
            query: query_params(Some(query)),
        }
    }

    #[test]
    fn the_header_wins_and_names_itself() {
        let both = params(&[("x-flow", "from-header")], "flow_name=from-url");
        assert_eq!(both.get(FLOW), Some(("X-Flow", "from-header")));
        let url_only = params(&[], "flow_name=from-url");
        assert_eq!(url_only.get(FLOW), Some(("flow_name", "from-url")));
        assert_eq!(params(&[], "").get(FLOW), None);
    }

    #[test]
    fn parse_errors_name_the_form_used() {
        let bad = params(&[], "limit=ten");
        let error = bad
            .parse::<u32>(Param::new("x-limit", "limit"), "a number")
            .unwrap_err();
        assert_eq!(error.0.public_message(), "limit: 'ten' is not a number");
    }
}
