// fashion_lenet: trains the fashion-lenet workload (LeNet-5 on 28x28 images, Adam,
// cross-entropy) on Fashion-MNIST and reports speed, memory and accuracy.
//
//   fashion_lenet [--mode eager|graph] [--device cpu|cuda] [--epochs N] [--steps N] [--batch B]
//                 [--lr X] [--threads T] [--data DIR] [--limit N] [--seed S] [--json PATH]
#include "examples/common/example_main.h"

int main(int argc, char** argv) { return duet::workloads::example_main(argc, argv, "fashion_lenet", "fashion-lenet"); }
