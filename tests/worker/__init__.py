"""Tests of the thumbnail worker; imagefactory generates images for any test package."""
