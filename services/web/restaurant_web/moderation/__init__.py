"""Moderation: visitors report reviews and photos; moderators signed in through the platform hide, restore or
delete them, and every action goes into the audit trail."""
