//! Adapters to PostgreSQL, Redis, Kafka (arrive with their issues).
