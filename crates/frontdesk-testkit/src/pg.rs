//! A fresh PostgreSQL schema per test. (Placeholder until the store helper lands; see the store crates.)
