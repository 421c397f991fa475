// Package config reads the server configuration of `dayops serve`: one YAML
// file and the environment (SPEC §2) into a typed, validated Config.
//
// The file is read strictly: an unknown key is an error, like in the
// definitions loader. Environment variables override file values. Secrets
// (tokens, the signing secret, passwords, keys, DAYOPS_SECRET_*) come only
// from the environment: a secret written in the file is an error that names
// the variable to use instead, and a Secret never prints its value. Every
// problem is reported at once, each with its key and what is expected.
//
// config imports only the root package dayops.
package config
