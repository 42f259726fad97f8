//! The query-shape limits and the error codes of the request phase, as an async-graphql
//! extension: aliases and query size are counted here, depth and complexity by async-graphql,
//! and every refusal leaves with an `extensions.code` (and `extensions.limit`). The extension
//! also tells the HTTP layer whether the request got as far as execution (which decides the
//! status code under `application/graphql-response+json`) and what it cost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::{
    Positioned, Response, ServerError, ServerResult, ValidationResult, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextValidation,
    },
    parser::types::{
        DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
    },
};

/// What one request did, shared between the HTTP handler and the extension.
#[derive(Debug, Default)]
pub struct ExecutionTrace {
    executed: AtomicBool,
    cost: AtomicUsize,
}

impl ExecutionTrace {
    /// The cost (complexity) async-graphql computed during validation.
    pub fn cost(&self) -> usize {
        self.cost.load(Ordering::Relaxed)
    }

    /// Whether the document parsed and validated and execution began.
    pub fn executed(&self) -> bool {
        self.executed.load(Ordering::Relaxed)
    }
}

/// Marks a request whose caller may not introspect (anonymous, production mode).
#[derive(Debug, Clone, Copy)]
pub struct IntrospectionOff;

fn asks_for_introspection(doc: &ExecutableDocument) -> bool {
    fn in_set(doc: &ExecutableDocument, set: &Positioned<SelectionSet>, depth: usize) -> bool {
        depth < 64
            && set.node.items.iter().any(|item| match &item.node {
                Selection::Field(f) => {
                    matches!(f.node.name.node.as_str(), "__schema" | "__type")
                        || in_set(doc, &f.node.selection_set, depth + 1)
                }
                Selection::InlineFragment(i) => in_set(doc, &i.node.selection_set, depth + 1),
                Selection::FragmentSpread(s) => doc
                    .fragments
                    .get(&s.node.fragment_name.node)
                    .is_some_and(|f| in_set(doc, &f.node.selection_set, depth + 1)),
            })
    }
    doc.operations
        .iter()
        .any(|(_, op)| in_set(doc, &op.node.selection_set, 0))
}

/// The limits the extension enforces itself.
#[derive(Debug, Clone, Copy)]
pub struct ShapeLimits {
    pub max_aliases: usize,
    pub max_query_bytes: usize,
    pub max_depth: usize,
    pub max_complexity: usize,
}

/// The extension's factory: the limits, and the documents parsed so far.
pub struct QueryLimits {
    limits: ShapeLimits,
    documents: Arc<Documents>,
}

impl QueryLimits {
    /// The extension with these limits, keeping what it parses in `documents` (which the HTTP
    /// layer reads too, see [`Documents::operation_type`]).
    pub fn new(limits: ShapeLimits, documents: Arc<Documents>) -> Self {
        Self { limits, documents }
    }
}

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(QueryLimitsExtension {
            limits: self.limits,
            documents: self.documents.clone(),
        })
    }
}

struct QueryLimitsExtension {
    limits: ShapeLimits,
    documents: Arc<Documents>,
}

/// Documents kept at most; a full cache starts over.
const DOCUMENTS: usize = 256;
/// Longer query texts are parsed every time, so the cache holds at most 1 MiB of query text and
/// the documents parsed from it (a few times that).
const DOCUMENT_BYTES: usize = 4096;

/// Parsed documents by query text. Apps and banks send the same few queries all day (the
/// eligibility check above all), and parsing was a measurable share of such a small request.
/// Only documents that parsed and passed async-graphql's recursion and directive limits are
/// kept, so a kept one needs neither again; everything after parsing (the introspection and
/// alias checks here, validation, `@skip`/`@include`) still runs on every request, on a copy.
#[derive(Default)]
pub struct Documents(Mutex<HashMap<Box<str>, ExecutableDocument>>);

impl Documents {
    /// The type of the operation `query` and `name` select, if it can be told without
    /// executing: what the HTTP layer asks of a GET (queries only) and of a request with an
    /// `Idempotency-Key` (mutations only). A document kept here answers without parsing again
    /// (measured on the eligibility benchmark's GET checks: parsing for this alone was 12 % of
    /// the server's CPU); another is parsed and not kept, since only the extension applies the
    /// parser's limits before keeping one.
    pub fn operation_type(&self, query: &str, name: Option<&str>) -> Option<OperationType> {
        if let Some(kept) = self
            .0
            .lock()
            .ok()
            .and_then(|documents| documents.get(query).map(|doc| selected(doc, name)))
        {
            return kept;
        }
        let doc = async_graphql::parser::parse_query(query).ok()?;
        selected(&doc, name)
    }

    fn get(&self, query: &str) -> Option<ExecutableDocument> {
        self.0.lock().ok()?.get(query).cloned()
    }

    fn keep(&self, query: &str, document: &ExecutableDocument) {
        if query.len() > DOCUMENT_BYTES {
            return;
        }
        if let Ok(mut documents) = self.0.lock() {
            if documents.len() >= DOCUMENTS {
                documents.clear();
            }
            documents.insert(query.into(), document.clone());
        }
    }
}

/// A request-phase error with a code and, for limits, the limit's name.
pub fn coded(message: impl Into<String>, code: &str, limit: Option<&str>) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", code);
    if let Some(limit) = limit {
        ext.set("limit", limit);
    }
    error.extensions = Some(ext);
    error
}

fn count_aliases(doc: &ExecutableDocument) -> usize {
    fn in_set(set: &Positioned<SelectionSet>) -> usize {
        set.node
            .items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(f) => {
                    usize::from(f.node.alias.is_some()) + in_set(&f.node.selection_set)
                }
                Selection::InlineFragment(i) => in_set(&i.node.selection_set),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let operations: usize = doc
        .operations
        .iter()
        .map(|(_, op)| in_set(&op.node.selection_set))
        .sum();
    let fragments: usize = doc
        .fragments
        .values()
        .map(|f| in_set(&f.node.selection_set))
        .sum();
    operations + fragments
}

/// Codes an error of async-graphql's own parse (with its recursion and directive limits).
fn code_parse_error(mut e: ServerError) -> ServerError {
    if e.extensions.is_none() {
        let code = if e.message.starts_with("The recursion depth")
            || e.message.starts_with("The number of directives")
        {
            "MAX_COST_EXCEEDED"
        } else {
            "GRAPHQL_PARSE_FAILED"
        };
        let mut ext = async_graphql::ErrorExtensionValues::default();
        ext.set("code", code);
        e.extensions = Some(ext);
    }
    e
}

/// The type of the operation `name` selects in `doc` (the only one when unnamed).
fn selected(doc: &ExecutableDocument, name: Option<&str>) -> Option<OperationType> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        _ => None,
    }
}

#[async_trait::async_trait]
impl Extension for QueryLimitsExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if query.len() > self.limits.max_query_bytes {
            return Err(coded(
                format!(
                    "the query text has {} bytes; at most {} are allowed",
                    query.len(),
                    self.limits.max_query_bytes
                ),
                "MAX_COST_EXCEEDED",
                Some("queryBytes"),
            ));
        }
        let document = match self.documents.get(query) {
            Some(document) => document,
            None => {
                let document = next
                    .run(ctx, query, variables)
                    .await
                    .map_err(code_parse_error)?;
                self.documents.keep(query, &document);
                document
            }
        };
        if ctx.data_opt::<IntrospectionOff>().is_some() && asks_for_introspection(&document) {
            return Err(coded(
                "introspection is off for anonymous callers in production mode; send a bearer token",
                "FORBIDDEN",
                None,
            ));
        }
        let aliases = count_aliases(&document);
        if aliases > self.limits.max_aliases {
            return Err(coded(
                format!(
                    "the query uses {aliases} aliases; at most {} are allowed",
                    self.limits.max_aliases
                ),
                "MAX_COST_EXCEEDED",
                Some("aliases"),
            ));
        }
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        match next.run(ctx).await {
            Ok(result) => {
                if let Some(trace) = ctx.data_opt::<Arc<ExecutionTrace>>() {
                    trace.cost.store(result.complexity, Ordering::Relaxed);
                }
                Ok(result)
            }
            Err(errors) => Err(errors
                .into_iter()
                .map(|e| match e.message.as_str() {
                    "Query is nested too deep." => coded(
                        format!(
                            "the query is nested deeper than {} levels",
                            self.limits.max_depth
                        ),
                        "MAX_COST_EXCEEDED",
                        Some("depth"),
                    ),
                    "Query is too complex." => coded(
                        format!(
                            "the query's cost exceeds {}; ask for fewer fields or smaller pages",
                            self.limits.max_complexity
                        ),
                        "MAX_COST_EXCEEDED",
                        Some("complexity"),
                    ),
                    _ => {
                        let mut e = e;
                        if e.extensions.is_none() {
                            let mut ext = async_graphql::ErrorExtensionValues::default();
                            ext.set("code", "GRAPHQL_VALIDATION_FAILED");
                            e.extensions = Some(ext);
                        }
                        e
                    }
                })
                .collect()),
        }
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(trace) = ctx.data_opt::<Arc<ExecutionTrace>>() {
            trace.executed.store(true, Ordering::Relaxed);
        }
        next.run(ctx, operation_name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_counted_in_operations_and_fragments() {
        let doc = async_graphql::parser::parse_query(
            "query { a: viewer { role } b: viewer { r: role } ...F } fragment F on Query { c: viewer { role } }",
        )
        .expect("parses");
        assert_eq!(count_aliases(&doc), 4);
    }
}
