"""Problems and notifications."""
