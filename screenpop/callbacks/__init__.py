"""Callbacks (« rappels »): the open callbacks, the attempts to call back, closing or cancelling one."""
