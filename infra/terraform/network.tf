# Static egress. Since April 2026 Kite accepts order placement, modification and cancellation only from a
# registered static IP. With var.enable_static_egress the functions send ALL traffic through a Serverless
# VPC Access connector into a VPC whose Cloud NAT uses one reserved external address: register that address
# (output static_egress_ip) in the Kite developer console. Turning the flag off removes all of it.
# A connector, not direct VPC egress (no connector VMs, about $14.67 a month less): the pinned google provider
# (~> 6.50) has no direct_vpc_* arguments on google_cloudfunctions2_function (Google documents 7.21.0 or
# later); README.md, section "Static egress", has the evidence and the way to move.
locals {
  egress_count = var.enable_static_egress ? 1 : 0
}

resource "google_compute_network" "egress" {
  count = local.egress_count

  name                    = "tron-egress"
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"

  depends_on = [google_project_service.api]
}

resource "google_vpc_access_connector" "egress" {
  count = local.egress_count

  name          = "tron-egress"
  region        = var.region
  network       = google_compute_network.egress[0].name
  ip_cidr_range = var.connector_cidr
  machine_type  = "e2-micro"
  min_instances = 2
  max_instances = 3
}

resource "google_compute_address" "egress" {
  count = local.egress_count

  name         = "tron-egress"
  region       = var.region
  address_type = "EXTERNAL"
  network_tier = "PREMIUM"
  description  = "The one address Kite sees TRON's orders from (register it as the static IP)."

  depends_on = [google_project_service.api]
}

resource "google_compute_router" "egress" {
  count = local.egress_count

  name    = "tron-egress"
  region  = var.region
  network = google_compute_network.egress[0].id
}

resource "google_compute_router_nat" "egress" {
  count = local.egress_count

  name                               = "tron-egress"
  region                             = var.region
  router                             = google_compute_router.egress[0].name
  nat_ip_allocate_option             = "MANUAL_ONLY"
  nat_ips                            = [google_compute_address.egress[0].self_link]
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"
  min_ports_per_vm                   = 1024

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}

# Nothing is served from this network: deny all ingress (the connector adds its own higher-priority rules
# for the serverless infrastructure it needs).
resource "google_compute_firewall" "deny_ingress" {
  count = local.egress_count

  name      = "tron-egress-deny-ingress"
  network   = google_compute_network.egress[0].name
  direction = "INGRESS"
  priority  = 65534

  deny {
    protocol = "all"
  }

  source_ranges = ["0.0.0.0/0"]
}
