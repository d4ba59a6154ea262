"""Integration tests use the emulator fixtures too."""

from tests.integration.emulators import (  # noqa: F401
    _firestore_session_client,
    _gcs_session_client,
    fake_gcs_server,
    firestore_client,
    firestore_emulator,
    gcs_bucket,
    gcs_client,
    pubsub_emulator,
)
