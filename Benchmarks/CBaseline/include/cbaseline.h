int cb_dummy(void);
