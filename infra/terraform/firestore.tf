# The state store: days/{date}, days/{date}/assets/{asset}, days/{date}/intents/{intent_id}.
# No google_firestore_index: every query is a document get, a single-field equality/range or a collection
# read, which Firestore's automatic single-field indexes serve. Add composite indexes here when a query
# combines filters on several fields (the emulator does not enforce them; production does).
resource "google_firestore_database" "state" {
  name                              = "(default)"
  location_id                       = var.firestore_location
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "PESSIMISTIC"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = var.deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  deletion_policy                   = var.deletion_protection ? "ABANDON" : "DELETE"

  depends_on = [google_project_service.api]
}
