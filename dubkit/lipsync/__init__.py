"""Lip-sync: face analysis of the picture (mouth tracks) and, later, re-animation of the speaking mouth."""
