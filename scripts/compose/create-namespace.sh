#!/bin/sh
# The namespace the service uses, created once the server answers (the server image creates none).
set -eu
attempt=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS"; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 60 ]; then echo "Temporal at $TEMPORAL_ADDRESS did not answer within two minutes" >&2; exit 1; fi
  sleep 2
done
temporal operator namespace describe -n "$NAMESPACE" --address "$TEMPORAL_ADDRESS" ||
  temporal operator namespace create -n "$NAMESPACE" --retention 7d --address "$TEMPORAL_ADDRESS"
