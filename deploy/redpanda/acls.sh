#!/bin/sh
# Generated from aitrader/acl.py by `python -m aitrader.acl_rpk`; edit the matrix, not this file.
# Run once the broker is up (compose service `acls`): makes each principal's SCRAM user from its
# secret file and its ACLs. Idempotent: a user that exists gets its password set again (rotation).
set -eu
export RPK_BROKERS=redpanda:9092 RPK_ADMIN_HOSTS=redpanda:9644 RPK_SASL_MECHANISM=SCRAM-SHA-256 RPK_USER=admin
RPK_PASS="$(cat /run/secrets/kafka_admin)"
export RPK_PASS
user() {
    password="$(cat "/run/secrets/kafka_$1")"
    rpk security user create "$1" --password "$password" --mechanism SCRAM-SHA-256 2>/dev/null \
        || rpk security user update "$1" --new-password "$password" --mechanism SCRAM-SHA-256
}

user ingest
user ops
user kernel
user projector
user api
user notary

rpk security acl create --allow-principal User:api --operation idempotent-write --cluster
rpk security acl create --allow-principal User:api --operation describe --group aitrader-admin
rpk security acl create --allow-principal User:api --operation describe --group aitrader-api-monitor
rpk security acl create --allow-principal User:api --operation describe --group aitrader-api-probe
rpk security acl create --allow-principal User:api --operation describe --group aitrader-kernel
rpk security acl create --allow-principal User:api --operation read --group aitrader-kernel.replay. --resource-pattern-type prefixed
rpk security acl create --allow-principal User:api --operation describe --group aitrader-reader
rpk security acl create --allow-principal User:api --operation read --topic audit.checkpoints
rpk security acl create --allow-principal User:api --operation read --topic control
rpk security acl create --allow-principal User:api --operation read --topic dead-letter
rpk security acl create --allow-principal User:api --operation read --topic fills
rpk security acl create --allow-principal User:api --operation read --topic inputs
rpk security acl create --allow-principal User:api --operation read --topic intents
rpk security acl create --allow-principal User:api --operation read --topic manifests
rpk security acl create --allow-principal User:api --operation read --topic ops.decisions
rpk security acl create --allow-principal User:api --operation read --topic orders
rpk security acl create --allow-principal User:api --operation create --topic replay. --resource-pattern-type prefixed
rpk security acl create --allow-principal User:api --operation read --topic replay. --resource-pattern-type prefixed
rpk security acl create --allow-principal User:api --operation write --topic replay. --resource-pattern-type prefixed
rpk security acl create --allow-principal User:api --operation read --topic signals
rpk security acl create --allow-principal User:api --operation read --topic snapshots
rpk security acl create --allow-principal User:ingest --operation idempotent-write --cluster
rpk security acl create --allow-principal User:ingest --operation describe --group aitrader-admin
rpk security acl create --allow-principal User:ingest --operation describe --group aitrader-api-monitor
rpk security acl create --allow-principal User:ingest --operation describe --group aitrader-api-probe
rpk security acl create --allow-principal User:ingest --operation describe --group aitrader-reader
rpk security acl create --allow-principal User:ingest --operation read --topic inputs
rpk security acl create --allow-principal User:ingest --operation write --topic inputs
rpk security acl create --allow-principal User:kernel --operation idempotent-write --cluster
rpk security acl create --allow-principal User:kernel --operation describe --group aitrader-admin
rpk security acl create --allow-principal User:kernel --operation describe --group aitrader-api-monitor
rpk security acl create --allow-principal User:kernel --operation describe --group aitrader-api-probe
rpk security acl create --allow-principal User:kernel --operation read --group aitrader-kernel
rpk security acl create --allow-principal User:kernel --operation describe --group aitrader-reader
rpk security acl create --allow-principal User:kernel --operation write --topic control
rpk security acl create --allow-principal User:kernel --operation write --topic dead-letter
rpk security acl create --allow-principal User:kernel --operation write --topic fills
rpk security acl create --allow-principal User:kernel --operation read --topic inputs
rpk security acl create --allow-principal User:kernel --operation write --topic intents
rpk security acl create --allow-principal User:kernel --operation read --topic manifests
rpk security acl create --allow-principal User:kernel --operation write --topic manifests
rpk security acl create --allow-principal User:kernel --operation write --topic orders
rpk security acl create --allow-principal User:kernel --operation write --topic signals
rpk security acl create --allow-principal User:kernel --operation read --topic snapshots
rpk security acl create --allow-principal User:kernel --operation write --topic snapshots
rpk security acl create --allow-principal User:notary --operation idempotent-write --cluster
rpk security acl create --allow-principal User:notary --operation describe --group aitrader-admin
rpk security acl create --allow-principal User:notary --operation describe --group aitrader-api-monitor
rpk security acl create --allow-principal User:notary --operation describe --group aitrader-api-probe
rpk security acl create --allow-principal User:notary --operation describe --group aitrader-reader
rpk security acl create --allow-principal User:notary --operation read --topic audit.checkpoints
rpk security acl create --allow-principal User:notary --operation write --topic audit.checkpoints
rpk security acl create --allow-principal User:notary --operation read --topic control
rpk security acl create --allow-principal User:notary --operation read --topic dead-letter
rpk security acl create --allow-principal User:notary --operation read --topic fills
rpk security acl create --allow-principal User:notary --operation read --topic inputs
rpk security acl create --allow-principal User:notary --operation read --topic intents
rpk security acl create --allow-principal User:notary --operation read --topic manifests
rpk security acl create --allow-principal User:notary --operation read --topic ops.decisions
rpk security acl create --allow-principal User:notary --operation read --topic orders
rpk security acl create --allow-principal User:notary --operation read --topic signals
rpk security acl create --allow-principal User:notary --operation read --topic snapshots
rpk security acl create --allow-principal User:ops --operation idempotent-write --cluster
rpk security acl create --allow-principal User:ops --operation describe --group aitrader-admin
rpk security acl create --allow-principal User:ops --operation describe --group aitrader-api-monitor
rpk security acl create --allow-principal User:ops --operation describe --group aitrader-api-probe
rpk security acl create --allow-principal User:ops --operation read --group aitrader-kernel.replay. --resource-pattern-type prefixed
rpk security acl create --allow-principal User:ops --operation describe --group aitrader-reader
rpk security acl create --allow-principal User:ops --operation read --topic audit.checkpoints
rpk security acl create --allow-principal User:ops --operation read --topic control
rpk security acl create --allow-principal User:ops --operation read --topic dead-letter
rpk security acl create --allow-principal User:ops --operation read --topic fills
rpk security acl create --allow-principal User:ops --operation read --topic inputs
rpk security acl create --allow-principal User:ops --operation write --topic inputs
rpk security acl create --allow-principal User:ops --operation read --topic intents
rpk security acl create --allow-principal User:ops --operation read --topic manifests
rpk security acl create --allow-principal User:ops --operation read --topic ops.decisions
rpk security acl create --allow-principal User:ops --operation write --topic ops.decisions
rpk security acl create --allow-principal User:ops --operation read --topic orders
rpk security acl create --allow-principal User:ops --operation create --topic replay. --resource-pattern-type prefixed
rpk security acl create --allow-principal User:ops --operation read --topic replay. --resource-pattern-type prefixed
rpk security acl create --allow-principal User:ops --operation write --topic replay. --resource-pattern-type prefixed
rpk security acl create --allow-principal User:ops --operation read --topic signals
rpk security acl create --allow-principal User:ops --operation read --topic snapshots
rpk security acl create --allow-principal User:projector --operation idempotent-write --cluster
rpk security acl create --allow-principal User:projector --operation describe --group aitrader-admin
rpk security acl create --allow-principal User:projector --operation describe --group aitrader-api-monitor
rpk security acl create --allow-principal User:projector --operation describe --group aitrader-api-probe
rpk security acl create --allow-principal User:projector --operation describe --group aitrader-reader
rpk security acl create --allow-principal User:projector --operation read --topic audit.checkpoints
rpk security acl create --allow-principal User:projector --operation read --topic control
rpk security acl create --allow-principal User:projector --operation read --topic dead-letter
rpk security acl create --allow-principal User:projector --operation write --topic dead-letter
rpk security acl create --allow-principal User:projector --operation read --topic fills
rpk security acl create --allow-principal User:projector --operation read --topic inputs
rpk security acl create --allow-principal User:projector --operation read --topic intents
rpk security acl create --allow-principal User:projector --operation read --topic manifests
rpk security acl create --allow-principal User:projector --operation read --topic ops.decisions
rpk security acl create --allow-principal User:projector --operation read --topic orders
rpk security acl create --allow-principal User:projector --operation read --topic signals
rpk security acl create --allow-principal User:projector --operation read --topic snapshots
