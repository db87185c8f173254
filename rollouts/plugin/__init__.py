"""The kubectl plugin: commands, pure intents (patches for promote/abort/…), rendering of trees and tables."""
