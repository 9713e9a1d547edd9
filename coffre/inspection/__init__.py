"""What may enter the vault: uploads checked for size, sniffed type and active content; PDFs."""
