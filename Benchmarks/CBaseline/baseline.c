int cb_dummy(void){return 0;}
