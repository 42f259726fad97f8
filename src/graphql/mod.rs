//! The GraphQL schema: the roots each capability contributes to, the limits, and the per-request
//! context every resolver reads (state, caller, request id).

pub mod limits;
pub mod loaders;
pub mod types;

use std::sync::Arc;

use async_graphql::{
    Context, EmptySubscription, MergedObject, Schema, SchemaBuilder, dataloader::DataLoader,
};

use crate::audit::{Actor, graphql::AuditQuery};
use crate::auth::{Caller, graphql::ViewerQuery};
use crate::benefits::graphql::{BenefitsMutation, BenefitsQuery};
use crate::calendar::graphql::{CalendarMutation, CalendarQuery};
use crate::catalog::graphql::{CatalogMutation, CatalogQuery};
use crate::commitments::graphql::{CommitmentsMutation, CommitmentsQuery};
use crate::config::Settings;
use crate::lists::graphql::{ListsMutation, ListsQuery};
use crate::ratings::graphql::{RatingsMutation, RatingsQuery};
use crate::ratings::loader::ModelLoader;
use crate::records::graphql::{RecordsMutation, RecordsQuery};
use crate::reference::{graphql::ReferenceQuery, loader::ReferenceLoader};
use crate::state::AppState;
use crate::subjects::graphql::{NodeQuery, SubjectsMutation, SubjectsQuery};
use limits::{Documents, QueryLimits, ShapeLimits};

/// Every query root field, by capability.
#[derive(MergedObject, Default)]
pub struct Query(
    ViewerQuery,
    NodeQuery,
    SubjectsQuery,
    CatalogQuery,
    RecordsQuery,
    ListsQuery,
    RatingsQuery,
    CommitmentsQuery,
    BenefitsQuery,
    CalendarQuery,
    ReferenceQuery,
    AuditQuery,
);

/// Every mutation, by capability.
#[derive(MergedObject, Default)]
pub struct Mutation(
    SubjectsMutation,
    RecordsMutation,
    ListsMutation,
    RatingsMutation,
    CommitmentsMutation,
    BenefitsMutation,
    CatalogMutation,
    CalendarMutation,
);

pub type CreditHubSchema = Schema<Query, Mutation, EmptySubscription>;

/// The request id of the HTTP request a GraphQL request came in.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The schema without data: enough to print the SDL. Parsed documents are kept in `documents`.
pub fn schema_builder(
    settings: &Settings,
    documents: Arc<Documents>,
) -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .limit_depth(settings.max_depth)
        .limit_complexity(settings.max_complexity)
        .limit_directives(settings.max_directives)
        .limit_recursive_depth(settings.max_depth.max(32))
        .extension(QueryLimits::new(
            ShapeLimits {
                max_aliases: settings.max_aliases,
                max_query_bytes: settings.max_query_bytes,
                max_depth: settings.max_depth,
                max_complexity: settings.max_complexity,
            },
            documents,
        ))
}

/// The SDL of the schema, as `credit-hub schema` prints it and `schema.graphql` holds it.
pub fn sdl() -> String {
    schema_builder(&Settings::default(), Arc::default())
        .finish()
        .sdl()
}

/// The two schemas a node serves: the open one, and the one for anonymous callers in
/// production, without introspection and field suggestions; and the documents both parsed.
#[derive(Clone)]
pub struct Schemas {
    pub open: CreditHubSchema,
    pub locked: CreditHubSchema,
    pub documents: Arc<Documents>,
}

pub fn build(state: &AppState) -> Schemas {
    let documents = Arc::<Documents>::default();
    let finish = |locked: bool| {
        let mut builder = schema_builder(&state.settings, documents.clone())
            .data(state.clone())
            .data(DataLoader::new(
                ReferenceLoader::new(state.db.clone()),
                tokio::spawn,
            ))
            .data(DataLoader::new(
                ModelLoader::new(state.db.clone()),
                tokio::spawn,
            ));
        if locked {
            builder = builder.disable_introspection().disable_suggestions();
        }
        builder.finish()
    };
    Schemas {
        open: finish(false),
        locked: finish(true),
        documents,
    }
}

/// What resolvers read from the context. Missing data is a wiring fault, answered as INTERNAL.
pub trait ContextExt {
    fn state(&self) -> async_graphql::Result<&AppState>;
    fn caller(&self) -> &Caller;
    fn actor(&self) -> Actor;
}

static ANONYMOUS: Caller = Caller::Anonymous;

impl ContextExt for Context<'_> {
    fn state(&self) -> async_graphql::Result<&AppState> {
        self.data::<AppState>().map_err(|_| {
            crate::error::AppError::internal("AppState missing from the schema data").into()
        })
    }

    fn caller(&self) -> &Caller {
        self.data_opt::<Caller>().unwrap_or(&ANONYMOUS)
    }

    fn actor(&self) -> Actor {
        Actor {
            request_id: self.data_opt::<RequestId>().map(|r| r.0.clone()),
            principal: self.caller().principal().cloned(),
        }
    }
}
