//! The options every recipe takes, and their builder methods, written once.

use super::lock::LossPolicy;
use super::retry::RetryPolicy;

/// Who we are in the recipe's nodes, what a disconnection means, how to retry.
#[derive(Debug, Clone)]
pub(crate) struct RecipeOptions {
    pub id: Vec<u8>,
    pub policy: LossPolicy,
    pub retry: RetryPolicy,
}

impl RecipeOptions {
    pub fn new(id: Vec<u8>) -> RecipeOptions {
        RecipeOptions { id, policy: LossPolicy::default(), retry: RetryPolicy::default() }
    }
}

/// The builder methods for a recipe type with a `RecipeOptions` at `$($field).+`.
macro_rules! recipe_options {
    ($ty:ty, $($field:tt).+) => {
        impl $ty {
            /// The participant id written into our nodes (Curator and kazoo read it as the
            /// participant's name).
            pub fn id(mut self, id: impl Into<Vec<u8>>) -> Self {
                self.$($field).+.id = id.into();
                self
            }

            /// What a disconnection means for what this recipe hands out (see
            /// [`LossPolicy`](crate::recipes::LossPolicy)).
            pub fn loss_policy(mut self, policy: crate::recipes::LossPolicy) -> Self {
                self.$($field).+.policy = policy;
                self
            }

            /// How requests are retried through connection loss.
            pub fn retry(mut self, policy: crate::recipes::RetryPolicy) -> Self {
                self.$($field).+.retry = policy;
                self
            }
        }
    };
}
pub(crate) use recipe_options;
