//! The query-shape limits and the error codes of the request phase, as an async-graphql
//! extension: aliases and query size are counted here, depth and complexity by async-graphql,
//! and every refusal leaves with an `extensions.code` (and `extensions.limit`). The extension
//! also tells the HTTP layer whether the request got as far as execution (which decides the
//! status code under `application/graphql-response+json`) and what it cost.
//! It keeps the documents it parsed ([`Documents`]) and, where variables cannot change the
//! outcome, what validating them found (`Validated`), so that a query sent all day is parsed and
//! validated once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::{
    Name, Positioned, Request, Response, ServerError, ServerResult, ValidationResult, Value,
    Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
        NextPrepareRequest, NextValidation,
    },
    parser::types::{
        BaseType, DocumentOperations, ExecutableDocument, OperationDefinition, OperationType,
        Selection, SelectionSet,
    },
    registry::Registry,
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

/// The extension's factory: the limits, the documents parsed so far, and the ones this
/// schema validated.
pub struct QueryLimits {
    limits: ShapeLimits,
    documents: Arc<Documents>,
    validated: Arc<Validated>,
}

impl QueryLimits {
    /// The extension with these limits, keeping what it parses in `documents` (which the HTTP
    /// layer reads too, see [`Documents::operation_type`]). What it validated it keeps for its
    /// own schema only: validation reads the schema's types.
    pub fn new(limits: ShapeLimits, documents: Arc<Documents>) -> Self {
        Self {
            limits,
            documents,
            validated: Arc::default(),
        }
    }
}

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(QueryLimitsExtension {
            limits: self.limits,
            documents: self.documents.clone(),
            validated: self.validated.clone(),
            request: Mutex::default(),
        })
    }
}

struct QueryLimitsExtension {
    limits: ShapeLimits,
    documents: Arc<Documents>,
    validated: Arc<Validated>,
    /// What the request's hooks learn for the later ones (the extension is made per request).
    request: Mutex<Pending>,
}

/// A request's validation as its first hook found it.
#[derive(Default)]
enum Pending {
    /// Not looked at yet (a hook ran out of order, or the lock was poisoned): validate.
    #[default]
    Unknown,
    /// Its document and variables were validated before, with this result.
    Known(ValidationResult),
    /// Validated now: its operation's name, then (from the parser's hook) its query text and
    /// the document's shape, when the result may be kept.
    Validate {
        operation: Option<Box<str>>,
        kept: Option<(Box<str>, Shape)>,
    },
}

/// Validation results kept for documents whose result does not depend on their variables'
/// values, as long as those values have the declared types: for each query text, by operation
/// name, the variables and the result. Apps and banks send the same eligibility check all day
/// with other variables, and validating it again was 9 % of the server's CPU on the eligibility
/// benchmark (`perf record` at 32 connections, PostgreSQL, 1,000,000 subjects).
///
/// Sound because every rule async-graphql validates with but two reads only the document and
/// the schema, so a document that passed once passes again; of the two, the argument-type rule
/// reads a variable's value only to check it against the argument's type, which the variable's
/// declared type matches (another rule checked that), and this check is repeated here for the
/// built-in scalars a kept document's variables must have; the cost reads argument values only
/// for fields with a cost of their own (`first: $n`), and a document passing a variable to a
/// field by such a name is not kept. Directives (`@skip(if: $x)` decides which fields count)
/// keep a document out too. A request whose variables are anything else (missing, null where
/// a value is required, of another kind, extra) is validated in full, with the usual errors.
#[derive(Default)]
struct Validated {
    kept: Mutex<HashMap<Box<str>, Vec<KeptOperation>>>,
    /// The names of the fields, on any type, whose cost is computed from their arguments.
    costly: OnceLock<HashSet<String>>,
}

/// One operation's kept validation.
struct KeptOperation {
    name: Option<Box<str>>,
    shape: Shape,
    result: ValidationResult,
}

/// Operation names kept per query text at most.
const OPERATIONS: usize = 8;

impl Validated {
    /// The kept result for `request`, when its variables have the kept document's types.
    fn known(&self, request: &Request) -> Option<ValidationResult> {
        let kept = self.kept.lock().ok()?;
        let kept = kept
            .get(request.query.as_str())?
            .iter()
            .find(|k| k.name.as_deref() == request.operation_name.as_deref())?;
        kept.shape.admits(&request.variables).then_some(kept.result)
    }

    fn keep(
        &self,
        query: Box<str>,
        operation: Option<Box<str>>,
        shape: Shape,
        result: ValidationResult,
    ) {
        if let Ok(mut all) = self.kept.lock() {
            if all.len() >= DOCUMENTS && !all.contains_key(&query) {
                all.clear();
            }
            let kept = all.entry(query).or_default();
            if kept.len() < OPERATIONS && !kept.iter().any(|k| k.name == operation) {
                kept.push(KeptOperation {
                    name: operation,
                    shape,
                    result,
                });
            }
        }
    }
}

/// A built-in scalar a kept document's variable may have.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scalar {
    String,
    Id,
    Int,
    Float,
    Boolean,
}

impl Scalar {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "String" => Self::String,
            "ID" => Self::Id,
            "Int" => Self::Int,
            "Float" => Self::Float,
            "Boolean" => Self::Boolean,
            _ => return None,
        })
    }

    /// Whether `value` is one async-graphql takes for the scalar (the common forms only: an ID
    /// given as a number, say, is validated in full).
    fn admits(self, value: &Value) -> bool {
        match (self, value) {
            (Self::String | Self::Id, Value::String(_)) | (Self::Boolean, Value::Boolean(_)) => {
                true
            }
            (Self::Int, Value::Number(n)) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            (Self::Float, Value::Number(n)) => n.as_f64().is_some(),
            _ => false,
        }
    }
}

/// The variables of a document whose validation may be kept: each name, its scalar, and
/// whether it may be null.
#[derive(Debug, Clone, PartialEq)]
struct Shape(Vec<(Name, Scalar, bool)>);

impl Shape {
    /// The shape of `operation` in `doc`, when its validation result may be kept (see
    /// [`Validated`]).
    fn of(
        doc: &ExecutableDocument,
        operation: &OperationDefinition,
        costly: &HashSet<String>,
    ) -> Option<Self> {
        let mut variables = Vec::with_capacity(operation.variable_definitions.len());
        for v in &operation.variable_definitions {
            let v = &v.node;
            if !v.directives.is_empty() {
                return None;
            }
            let BaseType::Named(name) = &v.var_type.node.base else {
                return None;
            };
            variables.push((
                v.name.node.clone(),
                Scalar::named(name)?,
                v.var_type.node.nullable,
            ));
        }
        let plain = |set: &Positioned<SelectionSet>| plain_selection(set, costly);
        (operation.directives.is_empty()
            && plain(&operation.selection_set)
            && doc
                .fragments
                .values()
                .all(|f| f.node.directives.is_empty() && plain(&f.node.selection_set)))
        .then_some(Self(variables))
    }

    /// Whether `variables` are exactly this shape's, each of its type.
    fn admits(&self, variables: &Variables) -> bool {
        variables.len() == self.0.len()
            && self
                .0
                .iter()
                .all(|(name, scalar, nullable)| match variables.get(name) {
                    Some(Value::Null) => *nullable,
                    Some(value) => scalar.admits(value),
                    None => false,
                })
    }
}

/// The names of the fields, on any type, whose cost is computed from their arguments.
fn costly_fields(registry: &Registry) -> HashSet<String> {
    registry
        .types
        .values()
        .filter_map(|t| t.fields())
        .flat_map(|fields| fields.values())
        .filter(|f| f.compute_complexity.is_some())
        .map(|f| f.name.clone())
        .collect()
}

/// Whether a selection has no directives, and passes no variable to a field in `costly`.
fn plain_selection(set: &Positioned<SelectionSet>, costly: &HashSet<String>) -> bool {
    set.node.items.iter().all(|item| match &item.node {
        Selection::Field(f) => {
            let f = &f.node;
            f.directives.is_empty()
                && (!costly.contains(f.name.node.as_str())
                    || f.arguments
                        .iter()
                        .all(|(_, v)| v.node.clone().into_const().is_some()))
                && plain_selection(&f.selection_set, costly)
        }
        Selection::InlineFragment(i) => {
            i.node.directives.is_empty() && plain_selection(&i.node.selection_set, costly)
        }
        Selection::FragmentSpread(s) => s.node.directives.is_empty(),
    })
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
    operation(doc, name).map(|op| op.ty)
}

/// The operation `name` selects in `doc` (the only one when unnamed).
fn operation<'d>(
    doc: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<&'d OperationDefinition> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| &op.node)
        }
        _ => None,
    }
}

#[async_trait::async_trait]
impl Extension for QueryLimitsExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let pending = match self.validated.known(&request) {
            Some(result) => Pending::Known(result),
            None => Pending::Validate {
                operation: request.operation_name.as_deref().map(Into::into),
                kept: None,
            },
        };
        if let Ok(mut slot) = self.request.lock() {
            *slot = pending;
        }
        next.run(ctx, request).await
    }

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
        if query.len() <= DOCUMENT_BYTES
            && let Ok(mut slot) = self.request.lock()
            && let Pending::Validate {
                operation: name,
                kept,
            } = &mut *slot
        {
            let costly = self
                .validated
                .costly
                .get_or_init(|| costly_fields(&ctx.schema_env.registry));
            *kept = operation(&document, name.as_deref())
                .and_then(|op| Shape::of(&document, op, costly))
                .map(|shape| (query.into(), shape));
        }
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let pending = self
            .request
            .lock()
            .map(|mut slot| std::mem::take(&mut *slot))
            .unwrap_or_default();
        let validated = match pending {
            Pending::Known(result) => Ok(result),
            Pending::Validate {
                operation,
                kept: Some((query, shape)),
            } => next.run(ctx).await.inspect(|result| {
                self.validated.keep(query, operation, shape, *result);
            }),
            _ => next.run(ctx).await,
        };
        match validated {
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

    fn shape(query: &str, costly: &[&str]) -> Option<Shape> {
        let doc = async_graphql::parser::parse_query(query).expect("parses");
        let costly = costly.iter().map(|c| c.to_string()).collect();
        Shape::of(&doc, operation(&doc, None).expect("one operation"), &costly)
    }

    fn variables(json: serde_json::Value) -> Variables {
        Variables::from_json(json)
    }

    #[test]
    fn a_check_with_scalar_variables_keeps_its_validation() {
        let shape = shape(
            "query($c: String!, $s: String, $n: Int, $x: Float, $b: Boolean!, $i: ID!) { e(code: $c, s: $s) { a } }",
            &["records"],
        )
        .expect("kept");
        let good = serde_json::json!({"c": "x", "s": null, "n": 3, "x": 1.5, "b": true, "i": "7"});
        assert!(shape.admits(&variables(good.clone())));
        let with = |key: &str, value: serde_json::Value| {
            let mut v = good.clone();
            v[key] = value;
            shape.admits(&variables(v))
        };
        assert!(!with("c", serde_json::json!(5)), "a number for a String");
        assert!(!with("c", serde_json::Value::Null), "null for a String!");
        assert!(!with("c", serde_json::json!(["x"])), "a list");
        assert!(
            !with("n", serde_json::json!(2_147_483_648_i64)),
            "beyond Int"
        );
        assert!(!with("n", serde_json::json!(1.5)), "a fraction for an Int");
        assert!(
            !with("b", serde_json::json!("true")),
            "a string for a Boolean"
        );
        assert!(
            !with("i", serde_json::json!(7)),
            "an ID as a number is validated in full"
        );
        assert!(
            !with("extra", serde_json::json!(1)),
            "a variable not declared"
        );
        let mut missing = good.clone();
        missing.as_object_mut().expect("object").remove("s");
        assert!(!shape.admits(&variables(missing)), "a variable left out");
    }

    #[test]
    fn documents_whose_validation_reads_variables_are_not_kept() {
        // Lists, input objects and enums are checked against their types in full.
        assert_eq!(
            shape("query($l: [String!]!) { e(codes: $l) { a } }", &[]),
            None
        );
        assert_eq!(
            shape("query($f: SubjectFilter) { e(filter: $f) { a } }", &[]),
            None
        );
        // A cost computed from a variable, and directives that decide which fields count.
        assert_eq!(
            shape(
                "query($n: Int) { s { records(first: $n) { a } } }",
                &["records"]
            ),
            None
        );
        assert_eq!(
            shape("query($m: Boolean!) { e { a @include(if: $m) } }", &[]),
            None
        );
        assert_eq!(
            shape(
                "query($m: Boolean!) { e { ...F } } fragment F on E { a @skip(if: $m) }",
                &[]
            ),
            None
        );
        // A literal page size costs the same every time.
        assert!(shape("query { s { records(first: 5) { a } } }", &["records"]).is_some());
    }
}
