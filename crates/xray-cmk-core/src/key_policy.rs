//! IAM / KMS key policy documents: parsing, evaluation and the analyses the key rules need.
