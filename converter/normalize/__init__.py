"""Parsing shared by all readers: text cleaning, partial dates, ages, registry enumerations."""
