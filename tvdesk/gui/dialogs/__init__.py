"""Dialogs of the window (Qt): the LIVE consent dialog and other modal questions."""
