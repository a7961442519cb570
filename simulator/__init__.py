"""PBX simulator: a fake Asterisk speaking real AMI, for the demo and for load generation.

Never used instead of the real Asterisk in the tests of `telephony/`."""
