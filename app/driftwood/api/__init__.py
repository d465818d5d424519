"""The HTTP APIs: linkding-compatible native API, Pinboard v1 subset, and API token pages."""
