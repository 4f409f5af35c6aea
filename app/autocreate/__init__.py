"""Automatic creation of respond.io contacts from new Salesforce Contacts."""
