"""Loopback fakes of the services Parley talks to; each speaks the real wire protocol."""
