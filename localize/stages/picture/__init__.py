"""Picture: shots, faces, lip alignment, consented face swap, burned-in subtitle removal."""
